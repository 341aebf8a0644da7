//! DescribeCluster and DescribeLogDirs: what this broker is and what it stores where.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, DescribeLogDirsRequest,
    DescribeLogDirsResponse,
};

use crate::broker::BrokerState;

use super::metadata::OPS_NOT_REQUESTED;
use super::{code, str, topic_name};

pub async fn handle_describe_cluster(
    state: &BrokerState,
    req: DescribeClusterRequest,
    _version: i16,
) -> DescribeClusterResponse {
    use crate::security::acl::{resource, CLUSTER_NAME};
    // Kafka answers every caller; without DESCRIBE on the cluster the operations are just 0.
    let mut resp = DescribeClusterResponse::default();
    resp.error_code = code::NONE;
    resp.endpoint_type = req.endpoint_type;
    resp.cluster_id = str(state.cluster.cluster_id());
    resp.controller_id = BrokerId(state.cluster.node_id);
    if let Some(rm) = &state.replicas {
        // Every registered broker (fenced ones too when asked, v2), at the endpoint of the
        // listener this request came in on.
        let listener = super::metadata::advertised_for_request(state)
            .map(|l| l.name.clone())
            .unwrap_or_default();
        let img = rm.image();
        resp.brokers = img
            .brokers
            .values()
            .filter(|b| req.include_fenced_brokers || !b.fenced)
            .filter_map(|b| {
                let e = b.endpoint(&listener)?;
                let mut d = DescribeClusterBroker::default();
                d.broker_id = BrokerId(b.id);
                d.host = str(e.host.clone());
                d.port = e.port as i32;
                d.rack = b.rack.clone().map(str);
                d.is_fenced = b.fenced;
                Some(d)
            })
            .collect();
        let live: Vec<i32> = img.live_brokers().map(|b| b.id).collect();
        resp.controller_id = BrokerId(super::metadata::controller_for_clients(rm, &live));
    } else {
        resp.brokers = super::metadata::advertised_for_request(state)
            .into_iter()
            .map(|l| {
                let mut b = DescribeClusterBroker::default();
                b.broker_id = BrokerId(state.cluster.node_id);
                b.host = str(l.host.clone());
                b.port = l.port as i32;
                b
            })
            .collect();
    }
    resp.cluster_authorized_operations = if req.include_cluster_authorized_operations {
        super::authorized_ops(
            state,
            resource::CLUSTER,
            CLUSTER_NAME,
            super::metadata::CLUSTER_OPS,
        )
    } else {
        OPS_NOT_REQUESTED
    };
    resp
}

/// (total, usable) bytes of the file system holding `path`.
fn disk_space(path: &std::path::Path) -> (i64, i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return (-1, -1);
    };
    // SAFETY: statvfs writes into the zeroed struct we pass; the path is NUL-terminated.
    unsafe {
        let mut s: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut s) != 0 {
            return (-1, -1);
        }
        let f = s.f_frsize as i64;
        (s.f_blocks as i64 * f, s.f_bavail as i64 * f)
    }
}

pub async fn handle_describe_log_dirs(
    state: &BrokerState,
    req: DescribeLogDirsRequest,
    _version: i16,
) -> DescribeLogDirsResponse {
    use crate::security::acl::{op, resource, CLUSTER_NAME};
    if !super::allowed(state, op::DESCRIBE, resource::CLUSTER, CLUSTER_NAME) {
        // Kafka answers an unauthorized caller with no log dirs (and the error from v3).
        let mut resp = DescribeLogDirsResponse::default();
        resp.error_code = code::CLUSTER_AUTHORIZATION_FAILED;
        return resp;
    }
    let wanted: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.topic.0.as_str().to_string(), t.partitions))
            .collect()
    });
    let mut topics = Vec::new();
    for t in state.cluster.topics() {
        let filter = match &wanted {
            None => None,
            Some(w) => match w.iter().find(|(n, _)| *n == t.meta.name) {
                Some((_, ps)) => Some(ps.clone()),
                None => continue,
            },
        };
        let partitions: Vec<_> = t
            .partitions
            .iter()
            .filter(|p| filter.as_ref().is_none_or(|f| f.contains(&p.index)))
            .map(|p| {
                let mut d = DescribeLogDirsPartition::default();
                d.partition_index = p.index;
                d.partition_size = p.size_bytes() as i64;
                d.offset_lag = 0;
                d.is_future_key = false;
                d
            })
            .collect();
        let mut dt = DescribeLogDirsTopic::default();
        dt.name = topic_name(t.meta.name.clone());
        dt.partitions = partitions;
        topics.push(dt);
    }
    let dir = state.cluster.data_dir();
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let (total, usable) = disk_space(&abs);
    let mut r = DescribeLogDirsResult::default();
    r.error_code = code::NONE;
    r.log_dir = str(abs.display().to_string());
    r.topics = topics;
    r.total_bytes = total;
    r.usable_bytes = usable;
    let mut resp = DescribeLogDirsResponse::default();
    resp.error_code = code::NONE;
    resp.results = vec![r];
    resp
}
