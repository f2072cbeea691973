//! `GET /metrics`: the stores', the journal's and the pipeline's figures in Prometheus' text
//! format (see `docs/metrics.md` for every series).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tollgate_core::Clock;

use super::Admin;
use tollgate_gate::{Exposition, STORE_ERROR_KINDS};

/// Every series in Prometheus' text format (docs/metrics.md).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "The series", content_type = "text/plain; version=0.0.4", body = String))
)]
pub(super) async fn metrics<C: Clock>(State(admin): State<Arc<Admin<C>>>) -> Response {
    let gate = &admin.app.gate;
    let store = gate.limiter().store();
    let stats = store.stats();
    let mut page = Exposition::default();
    let count = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
    page.single(
        "tollgate_partitions",
        "gauge",
        "Limit partitions held in memory.",
        count(stats.partitions),
    )
    .single(
        "tollgate_state_bytes",
        "gauge",
        "Bytes allocated for limit state.",
        count(stats.bytes),
    )
    .single(
        "tollgate_swept_total",
        "counter",
        "States dropped at rest by sweeps.",
        stats.swept,
    )
    .single(
        "tollgate_evicted_total",
        "counter",
        "States evicted at capacity.",
        stats.evicted,
    )
    .single(
        "tollgate_refused_partitions_total",
        "counter",
        "New partitions refused at capacity.",
        stats.refused,
    )
    .single(
        "tollgate_journal_takes_total",
        "counter",
        "Times the journal took long-lived state to write.",
        store.journal_epoch(),
    );
    let (hints, dropped) = gate.hint_figures();
    page.single(
        "tollgate_block_hints",
        "gauge",
        "Blocks an upstream asked for (Tollgate-Block-For), held now.",
        count(hints),
    )
    .single(
        "tollgate_block_hints_dropped_total",
        "counter",
        "Upstream blocks dropped because the most allowed were held.",
        dropped,
    );
    if let Some(journal) = gate.journal() {
        let figures = journal.figures();
        page.single(
            "tollgate_journal_bytes",
            "gauge",
            "Size of the limit-state journal file.",
            figures.bytes,
        )
        .single(
            "tollgate_journal_compactions_total",
            "counter",
            "Times the journal was rewritten with the live state only.",
            figures.compactions,
        )
        .single(
            "tollgate_journal_write_errors_total",
            "counter",
            "Journal writes that failed (answers waiting on them got the failure answer).",
            figures.write_errors,
        )
        .single(
            "tollgate_journal_up",
            "gauge",
            "0 while the journal cannot be written, 1 otherwise.",
            u64::from(!figures.failing),
        )
        .single(
            "tollgate_journal_fsyncs_total",
            "counter",
            "Journal writes made durable.",
            figures.fsyncs,
        )
        .single(
            "tollgate_journal_fsync_nanoseconds_total",
            "counter",
            "Time spent making journal writes durable, in nanoseconds.",
            figures.fsync_nanos,
        );
        let name = "tollgate_journal_fsync_seconds";
        page.family(
            name,
            "histogram",
            "Time each journal write took to be made durable, in seconds.",
        );
        journal.fsync_latency().write(&mut page, name, &[]);
    }
    let errors = "tollgate_store_errors_total";
    page.family(
        errors,
        "counter",
        "Limit store calls that failed, by store (memory, shared) and kind (full, timeout, unreachable, fault).",
    )
    .sample(errors, &[("store", "memory"), ("kind", "full")], stats.refused);
    if let Some(shared) = gate.shared_store() {
        for (kind, failed) in STORE_ERROR_KINDS.iter().zip(shared.errors_by_kind()) {
            page.sample(errors, &[("store", "shared"), ("kind", kind)], failed);
        }
        let health = shared.health();
        page.single(
            "tollgate_shared_store_up",
            "gauge",
            "1 while the shared limit store answers, 0 while on_store_error applies.",
            u64::from(health.up),
        )
        .single(
            "tollgate_shared_store_errors_total",
            "counter",
            "Calls to the shared limit store that failed or timed out.",
            health.errors,
        )
        .single(
            "tollgate_shared_store_transitions_total",
            "counter",
            "Changes between reachable and unreachable.",
            health.transitions,
        );
        let name = "tollgate_store_call_seconds";
        page.family(
            name,
            "histogram",
            "Time each decision's call to the shared limit store took, answered or not, in seconds.",
        );
        shared
            .latency()
            .write(&mut page, name, &[("store", "shared")]);
        let followed = shared.store().redirections();
        if !followed.is_empty() {
            let name = "tollgate_shared_store_redirections_total";
            page.family(
                name,
                "counter",
                "Redis Cluster answers followed: MOVED, ASK, and calls retried (TRYAGAIN, CLUSTERDOWN).",
            );
            for (kind, count) in followed {
                page.sample(name, &[("kind", kind)], count);
            }
        }
    }
    super::shadow::metrics(&admin, &mut page);
    if let Some(log) = &admin.app.access_log {
        page.single(
            "tollgate_access_log_dropped_total",
            "counter",
            "Access log lines dropped because the writer was behind (the queue holds 65,536).",
            log.dropped(),
        );
    }
    let [admitted, refused, unavailable] = gate.decisions();
    let name = "tollgate_decisions_total";
    page.family(
        name,
        "counter",
        "Decisions since the start, by outcome (unavailable: 503, the limit store could not decide).",
    )
    .sample(name, &[("outcome", "admitted")], admitted)
    .sample(name, &[("outcome", "refused")], refused)
    .sample(name, &[("outcome", "unavailable")], unavailable);
    gate.metrics().write(&mut page);
    gate.rule_stats().write(&mut page);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        page.into_text(),
    )
        .into_response()
}
