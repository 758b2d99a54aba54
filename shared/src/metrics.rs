//! CloudWatch Embedded Metric Format (EMF): one JSON line on stdout per
//! invocation, which CloudWatch turns into metrics with no API call and no SDK.
//! Only counts, durations and fixed labels go here; never an email or a secret.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

pub struct Metrics {
    namespace: &'static str,
    function: &'static str,
    values: Vec<(String, f64, &'static str)>,
}

impl Metrics {
    pub fn new(namespace: &'static str, function: &'static str) -> Self {
        Metrics {
            namespace,
            function,
            values: Vec::new(),
        }
    }

    pub fn count(&mut self, name: &str, value: f64) {
        self.add(name, value, "Count");
    }

    pub fn milliseconds(&mut self, name: &str, value: f64) {
        self.add(name, value, "Milliseconds");
    }

    fn add(&mut self, name: &str, value: f64, unit: &'static str) {
        match self.values.iter_mut().find(|(n, _, _)| n == name) {
            Some(slot) => slot.1 += value,
            None => self.values.push((name.to_owned(), value, unit)),
        }
    }

    /// The EMF document (exposed for tests).
    pub fn to_json(&self) -> Value {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let definitions: Vec<Value> = self
            .values
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
            .collect();
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [["Function"]],
                    "Metrics": definitions,
                }]
            }),
        );
        doc.insert("Function".into(), json!(self.function));
        for (name, value, _) in &self.values {
            doc.insert(name.clone(), json!(value));
        }
        Value::Object(doc)
    }

    /// Write the document as one line on stdout, unless `EDX_HOOKS_METRICS=off`.
    pub fn emit(&self) {
        if self.values.is_empty() || std::env::var("EDX_HOOKS_METRICS").is_ok_and(|v| v == "off") {
            return;
        }
        let line = self.to_json().to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_shape() {
        let mut m = Metrics::new("EdxHooks", "fn");
        m.count("A", 1.0);
        m.count("A", 2.0);
        m.milliseconds("L", 3.5);
        let doc = m.to_json();
        assert_eq!(doc["A"], 3.0);
        assert_eq!(doc["L"], 3.5);
        assert_eq!(doc["Function"], "fn");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"],
            "Milliseconds"
        );
    }
}
