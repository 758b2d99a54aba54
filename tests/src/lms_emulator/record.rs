//! Records every request and counts in-flight requests.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::http::percent_decode;

/// One request as the emulator saw it.
#[derive(Clone, Debug)]
pub struct RecordedCall {
    /// 0-based order of arrival since the last [`reset`](super::LmsEmulator::reset_calls).
    pub seq: usize,
    pub method: String,
    /// Path as sent (percent-encoding preserved).
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub request_body: String,
    /// Wall-clock arrival time.
    pub started_at: SystemTime,
    pub start: Instant,
    /// When the response was produced; `None` while in flight or if aborted.
    pub end: Option<Instant>,
    /// `None` while in flight, when the connection was dropped on purpose, or
    /// when the client went away first.
    pub status: Option<u16>,
    pub response_body: String,
    /// Name of the injected fault, if one fired (`"respond 503"`, `"hang"`, `"drop"`, `"delay"`).
    pub fault: Option<String>,
    /// True when the client disconnected before the response was produced.
    pub aborted: bool,
}

impl RecordedCall {
    /// `path` percent-decoded (what Django routes on).
    pub fn decoded_path(&self) -> String {
        percent_decode(&self.path)
    }

    pub fn duration(&self) -> Option<Duration> {
        self.end.map(|e| e.duration_since(self.start))
    }

    pub fn request_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.request_body).ok()
    }

    pub fn response_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.response_body).ok()
    }

    /// True if the two calls' `[start, end]` intervals overlap.
    pub fn overlaps(&self, other: &RecordedCall) -> bool {
        let (Some(a_end), Some(b_end)) = (self.end, other.end) else {
            return false;
        };
        self.start < b_end && other.start < a_end
    }
}

#[derive(Debug, Default)]
pub(crate) struct Recorder {
    calls: Mutex<Vec<RecordedCall>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    in_flight_all: AtomicUsize,
    peak_all: AtomicUsize,
    generation: AtomicU64,
}

pub(crate) struct Begin<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// Counts towards `max_concurrent_requests` (everything except the token endpoint).
    pub counted: bool,
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Vec<RecordedCall>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn begin(self: &Arc<Self>, b: Begin<'_>) -> CallGuard {
        let (seq, generation) = {
            let mut calls = self.lock();
            let seq = calls.len();
            calls.push(RecordedCall {
                seq,
                method: b.method.to_owned(),
                path: b.path.to_owned(),
                query: b.query.map(str::to_owned),
                authorization: b.authorization.map(str::to_owned),
                content_type: b.content_type.map(str::to_owned),
                request_body: String::from_utf8_lossy(b.body).into_owned(),
                started_at: SystemTime::now(),
                start: Instant::now(),
                end: None,
                status: None,
                response_body: String::new(),
                fault: None,
                aborted: false,
            });
            (seq, self.generation.load(Ordering::SeqCst))
        };
        let now_all = self.in_flight_all.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_all.fetch_max(now_all, Ordering::SeqCst);
        if b.counted {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
        }
        CallGuard {
            recorder: self.clone(),
            seq,
            counted: b.counted,
            done: false,
            generation,
        }
    }

    pub(crate) fn calls(&self) -> Vec<RecordedCall> {
        self.lock().clone()
    }

    pub(crate) fn reset(&self) {
        let mut calls = self.lock();
        calls.clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
        drop(calls);
        self.peak
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        self.peak_all
            .store(self.in_flight_all.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    pub(crate) fn peak_all(&self) -> usize {
        self.peak_all.load(Ordering::SeqCst)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight_all.load(Ordering::SeqCst)
    }

    fn update(&self, seq: usize, generation: u64, f: impl FnOnce(&mut RecordedCall)) {
        let mut calls = self.lock();
        // A reset in between invalidates the slot.
        if self.generation.load(Ordering::SeqCst) == generation {
            if let Some(c) = calls.get_mut(seq) {
                f(c);
            }
        }
    }
}

/// Finishes a recorded call; on drop without `finish` marks it aborted and
/// always releases the in-flight slot.
pub(crate) struct CallGuard {
    recorder: Arc<Recorder>,
    seq: usize,
    counted: bool,
    done: bool,
    generation: u64,
}

impl CallGuard {
    pub(crate) fn set_fault(&self, fault: &str) {
        self.recorder.update(self.seq, self.generation, |c| {
            c.fault = Some(fault.to_owned())
        });
    }

    pub(crate) fn finish(mut self, status: Option<u16>, body: &[u8]) {
        let end = Instant::now();
        self.recorder.update(self.seq, self.generation, |c| {
            c.end = Some(end);
            c.status = status;
            c.response_body = String::from_utf8_lossy(body).into_owned();
        });
        self.done = true;
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            let end = Instant::now();
            self.recorder.update(self.seq, self.generation, |c| {
                if c.end.is_none() {
                    c.end = Some(end);
                }
                if c.fault.as_deref() != Some("drop") {
                    c.aborted = true;
                }
            });
        }
        self.recorder.in_flight_all.fetch_sub(1, Ordering::SeqCst);
        if self.counted {
            self.recorder.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
