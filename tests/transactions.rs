//! Transactions with librdkafka: committed records visible to read_committed and aborted ones
//! not (read_uncommitted sees both), zombie fencing by transactional.id, offsets sent to a
//! transaction, and a restart in the middle of a transaction that ends cleanly.

mod common;

use std::time::{Duration, Instant};

use common::TestBroker;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

fn txn_producer(bootstrap: &str, id: &str) -> BaseProducer {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", id)
        .set("transaction.timeout.ms", "10000")
        .create()
        .unwrap();
    p.init_transactions(Duration::from_secs(30))
        .expect("init_transactions");
    p
}

fn read(bootstrap: &str, topic: &str, isolation: &str, settle: Duration) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let until = Instant::now() + settle;
    while Instant::now() < until {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    out
}

fn send(p: &BaseProducer, topic: &str, vals: std::ops::Range<i32>, tag: &str) {
    for i in vals {
        let v = format!("{tag}-{i}");
        p.send(BaseRecord::<(), str>::to(topic).payload(&v).partition(0))
            .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

#[test]
fn committed_is_visible_aborted_is_not() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let p = txn_producer(&b, "tx-1");
    p.begin_transaction().unwrap();
    send(&p, "txn", 0..5, "commit");
    p.commit_transaction(Duration::from_secs(30))
        .expect("commit");
    p.begin_transaction().unwrap();
    send(&p, "txn", 0..5, "abort");
    p.abort_transaction(Duration::from_secs(30)).expect("abort");
    p.begin_transaction().unwrap();
    send(&p, "txn", 5..7, "commit");
    p.commit_transaction(Duration::from_secs(30))
        .expect("commit");

    let committed = read(&b, "txn", "read_committed", Duration::from_secs(3));
    let want: Vec<String> = (0..7).map(|i| format!("commit-{i}")).collect();
    assert_eq!(committed, want);
    let all = read(&b, "txn", "read_uncommitted", Duration::from_secs(3));
    assert_eq!(
        all.len(),
        12,
        "read_uncommitted sees the aborted records too: {all:?}"
    );

    // An open transaction holds back read_committed readers at its first offset.
    p.begin_transaction().unwrap();
    send(&p, "txn", 0..3, "open");
    let committed = read(&b, "txn", "read_committed", Duration::from_secs(2));
    assert_eq!(committed.len(), 7);
    p.commit_transaction(Duration::from_secs(30)).unwrap();
    let committed = read(&b, "txn", "read_committed", Duration::from_secs(3));
    assert_eq!(committed.len(), 10);
}

#[test]
fn a_second_producer_with_the_same_id_fences_the_first() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let zombie = txn_producer(&b, "fenced");
    zombie.begin_transaction().unwrap();
    send(&zombie, "fence", 0..3, "zombie");
    let fresh = txn_producer(&b, "fenced");
    // The zombie's open transaction was aborted and its epoch is now stale.
    let r = zombie.commit_transaction(Duration::from_secs(10));
    assert!(r.is_err(), "the zombie must be fenced");
    fresh.begin_transaction().unwrap();
    send(&fresh, "fence", 0..2, "fresh");
    fresh.commit_transaction(Duration::from_secs(30)).unwrap();
    let committed = read(&b, "fence", "read_committed", Duration::from_secs(3));
    assert_eq!(
        committed,
        vec!["fresh-0".to_string(), "fresh-1".to_string()]
    );
}

#[test]
fn offsets_sent_to_a_transaction_commit_with_it() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let p = txn_producer(&b, "ctp");
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &b)
        .set("group.id", "ctp-group")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let _ = c.fetch_metadata(None, Duration::from_secs(5));
    // Make sure the input topic exists.
    let plain: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &b)
        .create()
        .unwrap();
    send(&plain, "ctp-in", 0..1, "input");
    let meta = c.group_metadata().expect("group metadata");
    for (round, commit) in [(1, false), (2, true)] {
        p.begin_transaction().unwrap();
        send(&p, "ctp-out", 0..1, &format!("round{round}"));
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset("ctp-in", 0, Offset::Offset(round * 10))
            .unwrap();
        p.send_offsets_to_transaction(&offsets, &meta, Duration::from_secs(30))
            .expect("send offsets");
        if commit {
            p.commit_transaction(Duration::from_secs(30)).unwrap();
        } else {
            p.abort_transaction(Duration::from_secs(30)).unwrap();
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition("ctp-in", 0);
            let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
            assert_eq!(
                got.find_partition("ctp-in", 0).unwrap().offset(),
                Offset::Invalid,
                "aborted offsets are not visible"
            );
        }
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("ctp-in", 0);
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    assert_eq!(
        got.find_partition("ctp-in", 0).unwrap().offset(),
        Offset::Offset(20)
    );
    assert_eq!(
        read(&b, "ctp-out", "read_committed", Duration::from_secs(3)),
        vec!["round2-0".to_string()]
    );
}

#[test]
fn restart_in_the_middle_of_a_transaction_never_leaves_the_lso_stuck() {
    let mut broker = TestBroker::start_with(&[("transaction.max.timeout.ms", "900000")]);
    let b = broker.bootstrap();
    {
        let p = txn_producer(&b, "interrupted");
        p.begin_transaction().unwrap();
        send(&p, "mid", 0..3, "lost");
        // The producer goes away with the transaction open, and the broker restarts.
    }
    broker.restart();
    let b = broker.bootstrap();
    // The open transaction (10 s timeout) is aborted by the coordinator, releasing the LSO.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = txn_producer(&b, "after");
        p.begin_transaction().unwrap();
        send(&p, "mid", 0..1, "after");
        p.commit_transaction(Duration::from_secs(30)).unwrap();
        let committed = read(&b, "mid", "read_committed", Duration::from_secs(2));
        if committed == vec!["after-0".to_string()]
            || committed.first().map(String::as_str) == Some("after-0")
        {
            break;
        }
        assert!(Instant::now() < deadline, "LSO stuck: {committed:?}");
        std::thread::sleep(Duration::from_secs(2));
    }
}
