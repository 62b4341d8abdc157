//! Prometheus metrics, in the text exposition format (version 0.0.4), kept in memory per
//! process: requests by route and status, verdicts by outcome, refusals by code,
//! verification latency, queue depth.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the verification latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0];

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    verdicts: Mutex<BTreeMap<&'static str, u64>>,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    /// Counts a request answered with `status`.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        // Clients choose the method: only the standard ones get their own series, so that
        // made-up methods cannot grow the metrics without bound.
        const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];
        let method = if METHODS.contains(&method) { method } else { "other" };
        *self.requests.lock().expect("metrics lock").entry((method.to_string(), route.to_string(), status)).or_default() += 1;
    }

    /// Counts a stored verdict.
    pub fn verdict(&self, valid: bool) {
        *self.verdicts.lock().expect("metrics lock").entry(if valid { "valid" } else { "invalid" }).or_default() += 1;
    }

    /// Counts a refusal (an error answer) by its code.
    pub fn refusal(&self, code: &'static str) {
        *self.refusals.lock().expect("metrics lock").entry(code).or_default() += 1;
    }

    /// Records one verification's duration.
    pub fn verification(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The exposition text; `queued` and `running` are the pool's gauges now.
    pub fn render(&self, queued: usize, running: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP zkmargin_http_requests_total HTTP requests answered, by method, route and status.\n");
        out.push_str("# TYPE zkmargin_http_requests_total counter\n");
        for ((method, route, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "zkmargin_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}", escape(route));
        }
        out.push_str("# HELP zkmargin_verdicts_total Verdicts stored, by outcome.\n");
        out.push_str("# TYPE zkmargin_verdicts_total counter\n");
        let verdicts = self.verdicts.lock().expect("metrics lock");
        for outcome in ["valid", "invalid"] {
            let _ = writeln!(out, "zkmargin_verdicts_total{{outcome=\"{outcome}\"}} {}", verdicts.get(outcome).copied().unwrap_or(0));
        }
        drop(verdicts);
        out.push_str("# HELP zkmargin_refusals_total Requests refused with an error, by error code.\n");
        out.push_str("# TYPE zkmargin_refusals_total counter\n");
        for (code, n) in self.refusals.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "zkmargin_refusals_total{{code=\"{code}\"}} {n}");
        }
        out.push_str("# HELP zkmargin_verification_seconds Time to verify one bundle (proof and policy) on a worker.\n");
        out.push_str("# TYPE zkmargin_verification_seconds histogram\n");
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "zkmargin_verification_seconds_bucket{{le=\"{bound}\"}} {}", self.buckets[i].load(Ordering::Relaxed));
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "zkmargin_verification_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "zkmargin_verification_seconds_sum {}", self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "zkmargin_verification_seconds_count {count}");
        out.push_str("# HELP zkmargin_verification_queue_depth Verifications waiting for a worker.\n");
        out.push_str("# TYPE zkmargin_verification_queue_depth gauge\n");
        let _ = writeln!(out, "zkmargin_verification_queue_depth {queued}");
        out.push_str("# HELP zkmargin_verifications_running Verifications running on a worker.\n");
        out.push_str("# TYPE zkmargin_verifications_running gauge\n");
        let _ = writeln!(out, "zkmargin_verifications_running {running}");
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.request("POST", "/v1/proofs", 201);
        m.request("POST", "/v1/proofs", 201);
        m.verdict(true);
        m.verdict(false);
        m.refusal("nonce_used");
        m.verification(Duration::from_millis(30));
        let text = m.render(3, 2);
        assert!(text.contains("zkmargin_http_requests_total{method=\"POST\",route=\"/v1/proofs\",status=\"201\"} 2"));
        for i in 0..100 {
            m.request(&format!("FOO{i}"), "/healthz", 405);
        }
        let text = m.render(3, 2);
        assert!(text.contains("zkmargin_http_requests_total{method=\"other\",route=\"/healthz\",status=\"405\"} 100"), "{text}");
        assert!(!text.contains("FOO"), "made-up methods share one series");
        assert!(text.contains("zkmargin_verdicts_total{outcome=\"valid\"} 1"));
        assert!(text.contains("zkmargin_refusals_total{code=\"nonce_used\"} 1"));
        assert!(text.contains("zkmargin_verification_seconds_bucket{le=\"0.025\"} 0"));
        assert!(text.contains("zkmargin_verification_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("zkmargin_verification_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(text.contains("zkmargin_verification_queue_depth 3"));
        assert!(text.contains("zkmargin_verifications_running 2"));
    }
}
