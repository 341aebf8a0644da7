//! A partition leader (or group coordinator) asking a transaction's coordinator to add a
//! partition to the transaction (transactions v2, KIP-890 part 2) or to confirm it was added
//! (part 1 verification). The coordinator may be this broker, or another one reached with the
//! batched, broker-to-broker form of AddPartitionsToTxn (v4+; every Weir broker serves v5), as
//! Kafka's AddPartitionsToTxnManager does.

use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, ProducerId, TopicName, TransactionalId};
use kafka_protocol::protocol::StrBytes;

use super::coordinator::{code, AddMode, TXN_TOPIC};
use crate::broker::BrokerState;

/// One partition joining (or checked against) a transaction. The answer is the
/// coordinator's error code; a coordinator that cannot be reached or is moving is
/// COORDINATOR_NOT_AVAILABLE, which callers map as Kafka maps it for their request.
pub async fn add_or_verify(
    state: &BrokerState,
    txn_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    part: (String, i32),
    mode: AddMode,
) -> i16 {
    match state.txns.placement(state, txn_id) {
        Ok(_) => {
            let parts = [part];
            state
                .txns
                .add_partitions(state, txn_id, producer_id, producer_epoch, &parts, mode)
                .await
                .first()
                .copied()
                .unwrap_or(code::NONE)
        }
        Err(code::NOT_COORDINATOR) => {
            remote(state, txn_id, producer_id, producer_epoch, part, mode).await
        }
        Err(c) => unavailable_if_moving(c),
    }
}

/// Asks the broker that leads the id's transaction-log partition.
async fn remote(
    state: &BrokerState,
    txn_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    (topic, index): (String, i32),
    mode: AddMode,
) -> i16 {
    let Some(rm) = &state.replicas else {
        return code::COORDINATOR_NOT_AVAILABLE;
    };
    let p = state.txns.partition_of(&state.cluster, txn_id);
    let leader = rm.leadership(TXN_TOPIC, p).map_or(-1, |l| l.leader);
    if leader < 0 || leader == rm.node_id {
        return code::COORDINATOR_NOT_AVAILABLE;
    }
    let Some(peer) = rm.broker_peer(leader) else {
        return code::COORDINATOR_NOT_AVAILABLE;
    };
    let mut t = AddPartitionsToTxnTransaction::default();
    t.transactional_id = TransactionalId(StrBytes::from_string(txn_id.to_string()));
    t.producer_id = ProducerId(producer_id);
    t.producer_epoch = producer_epoch;
    t.verify_only = mode == AddMode::Verify;
    let mut tt = AddPartitionsToTxnTopic::default();
    tt.name = TopicName(StrBytes::from_string(topic.clone()));
    tt.partitions = vec![index];
    t.topics = vec![tt];
    let sent = peer
        .call(std::time::Duration::ZERO, |_| {
            let mut r = AddPartitionsToTxnRequest::default();
            r.transactions = vec![t];
            r
        })
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("AddPartitionsToTxn to broker {leader} failed: {e}");
            return code::COORDINATOR_NOT_AVAILABLE;
        }
    };
    if resp.error_code != code::NONE {
        return unavailable_if_moving(resp.error_code);
    }
    resp.results_by_transaction
        .iter()
        .flat_map(|r| r.topic_results.iter())
        .filter(|tr| tr.name.0.as_str() == topic)
        .flat_map(|tr| tr.results_by_partition.iter())
        .find(|pr| pr.partition_index == index)
        .map_or(code::COORDINATOR_NOT_AVAILABLE, |pr| {
            unavailable_if_moving(pr.partition_error_code)
        })
}

/// The coordinator moved or is loading: to the producer that is a retriable unavailability.
fn unavailable_if_moving(c: i16) -> i16 {
    match c {
        code::NOT_COORDINATOR | code::COORDINATOR_LOAD_IN_PROGRESS => {
            code::COORDINATOR_NOT_AVAILABLE
        }
        c => c,
    }
}
