//! `GET /status` of `oms serve`: one server-rendered HTML page an operator glances at — request
//! rate and latency, errors by code over the last minutes, the relay's backlog and lag,
//! notifications, and each carrier's health — read from the same figures `/metrics` exports
//! (the process's Prometheus recorder), so the two never disagree. No script, no style sheet
//! from elsewhere, no build step. It shows tenants' activity in aggregate, so it is served only
//! to the platform role, or on the `--admin-listen` address.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};
use telemetry::names;
use telemetry::prometheus::PrometheusHandle;

/// How far back "recent" reaches.
const WINDOW: Duration = Duration::from_secs(300);

/// Counter totals by (metric, labels) at one moment.
type Totals = BTreeMap<(String, Vec<(String, String)>), f64>;

/// The recorder's handle and the counter totals of the last minutes (taken every few
/// seconds by [`Status::sample`]), from which recent rates and errors are differences.
#[derive(Clone)]
pub struct Status {
    handle: PrometheusHandle,
    started: Instant,
    history: Arc<Mutex<VecDeque<(Instant, Totals)>>>,
}

impl Status {
    pub fn new(handle: PrometheusHandle) -> Self {
        Self {
            handle,
            started: Instant::now(),
            history: Arc::default(),
        }
    }

    fn scrape(&self) -> Scrape {
        let text = self.handle.render();
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap_or(Scrape {
            docs: Default::default(),
            samples: Vec::new(),
        })
    }

    /// Keeps the counter totals of now, and forgets those older than the window.
    pub fn sample(&self) {
        let totals = totals(&self.scrape());
        let now = Instant::now();
        if let Ok(mut h) = self.history.lock() {
            h.push_back((now, totals));
            while h
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > WINDOW)
            {
                h.pop_front();
            }
        }
    }

    /// The page.
    pub fn render(&self) -> String {
        let scrape = self.scrape();
        let now_totals = totals(&scrape);
        let (since, then) = self
            .history
            .lock()
            .ok()
            .and_then(|h| h.front().cloned())
            .unwrap_or((self.started, Totals::new()));
        let span = since.elapsed().as_secs_f64().max(1.0);
        let recent = |metric: &str, label: &str| -> BTreeMap<String, f64> {
            let mut by = BTreeMap::new();
            for ((m, labels), v) in &now_totals {
                if m != metric {
                    continue;
                }
                let key = labels
                    .iter()
                    .find(|(k, _)| k == label)
                    .map_or("-".to_owned(), |(_, v)| v.clone());
                let before = then
                    .get(&(m.clone(), labels.clone()))
                    .copied()
                    .unwrap_or(0.0);
                *by.entry(key).or_insert(0.0) += v - before;
            }
            by
        };
        let sum = |m: &BTreeMap<String, f64>| m.values().sum::<f64>();
        let total_requests = counter_sum(&scrape, names::REQUESTS);
        let recent_by_outcome = recent(names::REQUESTS, "outcome");
        let recent_requests = sum(&recent_by_outcome);
        let (p50, p99) = quantiles(&scrape, names::API_SECONDS);

        let mut page = String::with_capacity(8 * 1024);
        page.push_str(HEAD);
        page.push_str(&format!(
            "<h1>TenantOMS status</h1><p>up {} · figures of this process since it started; \
             “recent” is the last {} s</p>",
            human(self.started.elapsed()),
            span.round()
        ));
        page.push_str("<h2>Requests</h2><table>");
        row(
            &mut page,
            "requests",
            &format!("<span id=\"requests-total\">{total_requests}</span>"),
        );
        row(
            &mut page,
            "recent rate",
            &format!("{:.2} /s", recent_requests / span),
        );
        row(&mut page, "latency p50", &seconds(p50));
        row(&mut page, "latency p99", &seconds(p99));
        page.push_str("</table>");

        page.push_str("<h2>Recent errors by code</h2>");
        let errors: Vec<(String, f64)> = recent_by_outcome
            .into_iter()
            .filter(|(code, n)| code != telemetry::OK && *n > 0.0)
            .collect();
        if errors.is_empty() {
            page.push_str("<p>none</p>");
        } else {
            page.push_str("<table><tr><th>code</th><th>requests</th></tr>");
            for (code, n) in errors {
                page.push_str(&format!("<tr><td>{}</td><td>{n}</td></tr>", escape(&code)));
            }
            page.push_str("</table>");
        }

        page.push_str("<h2>Requests by operation</h2><table><tr><th>operation</th><th>ok</th><th>refused or failed</th></tr>");
        let mut by_op: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for s in scrape
            .samples
            .iter()
            .filter(|s| s.metric == names::REQUESTS)
        {
            let op = s.labels.get("operation").unwrap_or("-").to_owned();
            let v = value(&s.value);
            let e = by_op.entry(op).or_default();
            if s.labels.get("outcome") == Some(telemetry::OK) {
                e.0 += v;
            } else {
                e.1 += v;
            }
        }
        for (op, (ok, failed)) in by_op {
            page.push_str(&format!(
                "<tr><td>{}</td><td>{ok}</td><td>{failed}</td></tr>",
                escape(&op)
            ));
        }
        page.push_str("</table>");

        page.push_str("<h2>Events</h2><table>");
        row(
            &mut page,
            "relay backlog",
            &gauge(&scrape, names::RELAY_BACKLOG).map_or("-".into(), |v| v.to_string()),
        );
        row(
            &mut page,
            "relay lag p99",
            &seconds(quantiles(&scrape, names::RELAY_LAG_SECONDS).1),
        );
        for (outcome, n) in recent(names::NOTIFICATIONS, "outcome") {
            row(
                &mut page,
                &format!("notifications {outcome} (recent)"),
                &n.to_string(),
            );
        }
        page.push_str("</table>");

        page.push_str("<h2>Carriers</h2>");
        let mut carriers: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for s in scrape
            .samples
            .iter()
            .filter(|s| s.metric == names::CARRIER_CALLS)
        {
            let carrier = s.labels.get("carrier").unwrap_or("-").to_owned();
            let outcome = s.labels.get("outcome").unwrap_or("-").to_owned();
            *carriers
                .entry(carrier)
                .or_default()
                .entry(outcome)
                .or_default() += value(&s.value);
        }
        if carriers.is_empty() {
            page.push_str("<p>no carrier calls yet</p>");
        } else {
            page.push_str(
                "<table><tr><th>carrier</th><th>calls</th><th>failed</th><th>health</th></tr>",
            );
            for (carrier, outcomes) in carriers {
                let calls: f64 = outcomes.values().sum();
                let failed: f64 = outcomes
                    .iter()
                    .filter(|(o, _)| *o != telemetry::OK)
                    .map(|(_, n)| n)
                    .sum();
                let health = if failed == 0.0 {
                    "ok"
                } else if failed * 2.0 < calls {
                    "degraded"
                } else {
                    "failing"
                };
                page.push_str(&format!(
                    "<tr><td>{}</td><td>{calls}</td><td>{failed}</td><td class=\"{health}\">{health}</td></tr>",
                    escape(&carrier)
                ));
            }
            page.push_str("</table>");
        }
        page.push_str("</body></html>\n");
        page
    }
}

const HEAD: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"15\"><title>TenantOMS status</title><style>\
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;\
margin-bottom:1em}td,th{border:1px solid #ccc;padding:.25em .75em;text-align:left}\
.degraded{color:#a60}.failing{color:#c00}</style></head><body>";

fn row(page: &mut String, name: &str, value: &str) {
    page.push_str(&format!(
        "<tr><th>{}</th><td>{value}</td></tr>",
        escape(name)
    ));
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn value(v: &Value) -> f64 {
    match v {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(_) | Value::Summary(_) => 0.0,
    }
}

fn counter_sum(scrape: &Scrape, metric: &str) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .map(|s| value(&s.value))
        .sum()
}

fn gauge(scrape: &Scrape, metric: &str) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric)
        .map(|s| value(&s.value))
}

/// Every counter's total by metric and labels.
fn totals(scrape: &Scrape) -> Totals {
    scrape
        .samples
        .iter()
        .filter(|s| matches!(s.value, Value::Counter(_) | Value::Untyped(_)))
        .map(|s| {
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            ((s.metric.clone(), labels), value(&s.value))
        })
        .collect()
}

/// p50 and p99 of a histogram (all label sets together), as the upper bound of the bucket
/// holding them; `None` before any observation.
fn quantiles(scrape: &Scrape, metric: &str) -> (Option<f64>, Option<f64>) {
    let mut buckets: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for s in scrape.samples.iter().filter(|s| s.metric == metric) {
        if let Value::Histogram(counts) = &s.value {
            for c in counts {
                let e = buckets
                    .entry(c.less_than.to_bits())
                    .or_insert((c.less_than, 0.0));
                e.1 += c.count;
            }
        }
    }
    let mut sorted: Vec<(f64, f64)> = buckets.into_values().collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = sorted.last().map_or(0.0, |b| b.1);
    if total == 0.0 {
        return (None, None);
    }
    let at = |q: f64| sorted.iter().find(|b| b.1 >= q * total).map(|b| b.0);
    (at(0.5), at(0.99))
}

fn seconds(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.is_infinite() => "over 10 s".into(),
        Some(v) if v < 1.0 => format!("≤ {:.1} ms", v * 1000.0),
        Some(v) => format!("≤ {v:.2} s"),
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}
