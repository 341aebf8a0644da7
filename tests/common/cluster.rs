//! A real multi-broker cluster in one test process: each node is a full `Broker` on its own
//! tokio runtime, data directory and loopback ports, configured as a Kafka KRaft combined node
//! (`process.roles=broker,controller`, `controller.quorum.voters` naming every node). Killing
//! a node drops its runtime without a clean shutdown, which is what a crash leaves on disk
//! (the page cache survives, as it does for kill -9).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use weir::{Broker, BrokerHandle, Config};

pub struct Node {
    pub id: i32,
    pub port: u16,
    pub controller_port: u16,
    pub dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
    pub handle: Option<BrokerHandle>,
    extra: Vec<(String, String)>,
}

pub struct TestCluster {
    pub nodes: Vec<Node>,
}

/// A port free right now (the kernel's choice; small race with other tests, as with any
/// fixed-port setup).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Node {
    fn config(&self, voters: &str) -> Config {
        let mut props: Vec<(String, String)> = vec![
            ("node.id".into(), self.id.to_string()),
            ("process.roles".into(), "broker,controller".into()),
            (
                "listeners".into(),
                format!(
                    "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                    self.port, self.controller_port
                ),
            ),
            ("controller.listener.names".into(), "CONTROLLER".into()),
            (
                "listener.security.protocol.map".into(),
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".into(),
            ),
            ("controller.quorum.voters".into(), voters.into()),
            ("log.dirs".into(), self.dir.path().display().to_string()),
            ("broker.rack".into(), format!("rack{}", self.id)),
            // Faster than Kafka's defaults so fault tests finish in seconds.
            ("broker.session.timeout.ms".into(), "3000".into()),
            ("broker.heartbeat.interval.ms".into(), "300".into()),
            ("replica.lag.time.max.ms".into(), "3000".into()),
        ];
        props.extend(self.extra.iter().cloned());
        let map = props.into_iter().collect();
        Config::from_props(map).expect("cluster node config")
    }
}

impl TestCluster {
    /// Starts `n` nodes; node 1 runs the controller.
    pub fn start(n: usize, extra: &[(&str, &str)]) -> TestCluster {
        Self::start_on(n, extra, None)
    }

    /// As `start`, with node 1 on an existing data directory (a single node's, for the upgrade).
    pub fn start_on(
        n: usize,
        extra: &[(&str, &str)],
        node1_dir: Option<tempfile::TempDir>,
    ) -> TestCluster {
        let mut node1_dir = node1_dir;
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let nodes: Vec<Node> = (1..=n as i32)
            .map(|id| Node {
                id,
                port: free_port(),
                controller_port: free_port(),
                dir: match (id, node1_dir.take()) {
                    (1, Some(d)) => d,
                    _ => tempfile::tempdir().expect("tempdir"),
                },
                runtime: None,
                handle: None,
                extra: extra
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            })
            .collect();
        let mut c = TestCluster { nodes };
        for i in 0..n {
            c.start_node(i);
        }
        c.wait_for_brokers(n);
        c
    }

    fn voters(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts node `i` (index into `nodes`) on its data directory.
    pub fn start_node(&mut self, i: usize) {
        let voters = self.voters();
        let node = &mut self.nodes[i];
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        // A node killed a moment ago may still hold its data directory's lock while its
        // runtime winds down (as a killed process's lock lingers until the kernel reaps it).
        let started = std::time::Instant::now();
        let handle = loop {
            match runtime.block_on(Broker::start(node.config(&voters))) {
                Ok(h) => break h,
                Err(e)
                    if e.to_string().contains("in use")
                        && started.elapsed() < Duration::from_secs(10) =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("cluster node start: {e}"),
            }
        };
        node.handle = Some(handle);
        node.runtime = Some(runtime);
    }

    /// Crash: the node's tasks stop where they are; nothing is flushed or marked clean.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.handle = None;
        if let Some(rt) = node.runtime.take() {
            rt.shutdown_background();
        }
        // The directory lock is released when the process would have died.
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Clean shutdown (controlled: leadership moves away first).
    pub fn stop(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let (Some(h), Some(rt)) = (node.handle.take(), node.runtime.as_ref()) {
            rt.block_on(h.shutdown());
        }
        if let Some(rt) = node.runtime.take() {
            rt.shutdown_background();
        }
    }

    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.handle.is_some())
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn handle(&self, i: usize) -> &BrokerHandle {
        self.nodes[i].handle.as_ref().expect("node running")
    }

    /// Index of the node with this id.
    pub fn index_of(&self, id: i32) -> usize {
        self.nodes.iter().position(|n| n.id == id).expect("node id")
    }

    /// Waits until `n` brokers are registered and unfenced in the controller's metadata.
    pub fn wait_for_brokers(&self, n: usize) {
        wait_until(
            Duration::from_secs(20),
            "brokers to register and unfence",
            || self.live_brokers().len() >= n,
        );
    }

    pub fn live_brokers(&self) -> Vec<i32> {
        let Some(ctl) = self.nodes[0]
            .handle
            .as_ref()
            .and_then(|h| h.state().controller.clone())
        else {
            return Vec::new();
        };
        ctl.image()
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| b.id)
            .collect()
    }

    /// (leader, leader epoch, isr) of a partition in the controller's metadata.
    pub fn partition_state(&self, topic: &str, p: i32) -> Option<(i32, i32, Vec<i32>)> {
        let ctl = self.nodes[0].handle.as_ref()?.state().controller.clone()?;
        let img = ctl.image();
        let id = img.topic_ids.get(topic)?;
        let part = img.topics.get(id)?.partitions.get(&p)?;
        Some((part.leader, part.leader_epoch, part.isr.clone()))
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.handle = None;
            if let Some(rt) = n.runtime.take() {
                rt.shutdown_background();
            }
        }
    }
}

pub fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
