//! sled-backed hot state: quota counters and known layer digests.
//!
//! sled is used for these because they are tiny, very frequent, and need atomic
//! read-modify-write without a global lock: `fetch_and_update` is a lock-free
//! compare-and-swap loop, so 64 concurrent consumers of one token serialise on the
//! key alone and can neither overshoot the limit nor lose an increment.

use std::collections::HashSet;
use std::path::Path;

use time::{Date, OffsetDateTime};

use crate::quota::next_midnight_after;
use crate::store::MAX_LAYERS_PER_CALL;
use crate::store::error::{StoreError, StoreResult};
use crate::store::types::{QuotaDecision, QuotaKey, QuotaStatus, Sha256Digest};

const COUNTER_PREFIX: &str = "quota/";

/// How many 20 ms waits for sled's file lock [`Hot::open`] allows.
const LOCK_WAIT_TRIES: u32 = 50;

pub(super) struct Hot {
    db: sled::Db,
    counters: sled::Tree,
    layers: sled::Tree,
    /// Flush (fsync) after every change instead of relying on sled's periodic flush.
    strict: bool,
}

impl Hot {
    pub(super) fn open(dir: &Path, strict: bool) -> StoreResult<Self> {
        let config = sled::Config::new()
            .path(dir)
            // sled's default; in Relaxed mode this bounds what a power cut can lose.
            .flush_every_ms(Some(500))
            // Counters and layer digests are small: a small cache keeps the appliance's
            // resident memory modest (sled's default is 1 GiB).
            .cache_capacity(64 * 1024 * 1024);
        // A store closed a moment ago in this process can still hold sled's file lock
        // while sled's flusher thread winds down: wait for it briefly. Another live
        // process keeps it longer, and that is still refused (after ~1 s).
        let mut waited = 0;
        let db = loop {
            match config.open() {
                Err(sled::Error::Io(e))
                    if waited < LOCK_WAIT_TRIES && e.to_string().contains("acquire lock") =>
                {
                    waited += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.map_err(StoreError::sled("open DATA/sled"))?,
            }
        };
        let counters = db
            .open_tree("counters")
            .map_err(StoreError::sled("open tree counters"))?;
        let layers = db
            .open_tree("layers")
            .map_err(StoreError::sled("open tree layers"))?;
        Ok(Self {
            db,
            counters,
            layers,
            strict,
        })
    }

    pub(super) fn flush(&self) -> StoreResult<()> {
        self.db.flush().map_err(StoreError::sled("flush"))?;
        Ok(())
    }

    fn flush_if_strict(&self) -> StoreResult<()> {
        if self.strict { self.flush() } else { Ok(()) }
    }

    // ----- quotas -----

    pub(super) fn quota_try_consume(
        &self,
        key: &QuotaKey,
        day: Date,
        limit: u32,
    ) -> StoreResult<QuotaDecision> {
        let k = counter_key(key, day);
        let limit64 = u64::from(limit);
        // Fast path: an exhausted quota is refused without a write. Counters only grow
        // between here and the CAS below (refunds aside, where refusing is still a valid
        // linearisation), so this never allows anything the CAS would refuse.
        if let Some(cur) = self
            .counters
            .get(&k)
            .map_err(StoreError::sled("read quota counter"))?
        {
            let used = decode_counter(&k, &cur)?;
            if used >= limit64 {
                return decision(false, used, limit, day, &k);
            }
        }
        // The closure may run several times under contention; it is a pure function of the
        // old value, so the returned previous value alone determines the outcome.
        let prev = self
            .counters
            .fetch_and_update(&k, |old| match old {
                None if limit64 == 0 => None,
                None => Some(1u64.to_be_bytes().to_vec()),
                Some(b) => match counter_value(b) {
                    Some(n) if n < limit64 => Some((n + 1).to_be_bytes().to_vec()),
                    // Full, or corrupt: leave untouched (corruption is reported below).
                    _ => Some(b.to_vec()),
                },
            })
            .map_err(StoreError::sled("update quota counter"))?;
        let (allowed, used) = match &prev {
            None => (limit64 > 0, u64::from(limit64 > 0)),
            Some(b) => {
                let n = decode_counter(&k, b)?;
                if n < limit64 {
                    (true, n + 1)
                } else {
                    (false, n)
                }
            }
        };
        if allowed {
            self.flush_if_strict()?;
        }
        if prev.is_none() && allowed {
            // First scan of the day for this key: drop its counters older than yesterday.
            // Done here, per key, so pruning costs O(days kept) and needs no timer.
            if let Some(keep_from) = day.previous_day() {
                self.prune_key(key, keep_from)?;
            }
        }
        decision(allowed, used, limit, day, &k)
    }

    pub(super) fn quota_refund(
        &self,
        key: &QuotaKey,
        day: Date,
        limit: u32,
    ) -> StoreResult<QuotaStatus> {
        let k = counter_key(key, day);
        let prev = self
            .counters
            .fetch_and_update(&k, |old| {
                old.map(|b| match counter_value(b) {
                    Some(n) => n.saturating_sub(1).to_be_bytes().to_vec(),
                    None => b.to_vec(),
                })
            })
            .map_err(StoreError::sled("refund quota counter"))?;
        let used = match &prev {
            None => 0,
            Some(b) => decode_counter(&k, b)?.saturating_sub(1),
        };
        if prev.is_some() {
            self.flush_if_strict()?;
        }
        Ok(decision(false, used, limit, day, &k)?.status())
    }

    pub(super) fn quota_status(
        &self,
        key: &QuotaKey,
        day: Date,
        limit: u32,
    ) -> StoreResult<QuotaStatus> {
        let k = counter_key(key, day);
        let used = match self
            .counters
            .get(&k)
            .map_err(StoreError::sled("read quota counter"))?
        {
            None => 0,
            Some(b) => decode_counter(&k, &b)?,
        };
        Ok(decision(false, used, limit, day, &k)?.status())
    }

    pub(super) fn quota_prune(&self, before: Date) -> StoreResult<u64> {
        self.prune_prefix(COUNTER_PREFIX.as_bytes(), before)
    }

    fn prune_key(&self, key: &QuotaKey, before: Date) -> StoreResult<u64> {
        let prefix = format!("{COUNTER_PREFIX}{}/", key.as_str());
        self.prune_prefix(prefix.as_bytes(), before)
    }

    fn prune_prefix(&self, prefix: &[u8], before: Date) -> StoreResult<u64> {
        let mut removed = 0;
        for item in self.counters.scan_prefix(prefix).keys() {
            let k = item.map_err(StoreError::sled("scan quota counters"))?;
            // Keys whose date does not parse are not ours to judge: leave them.
            let Some(day) = key_day(&k) else { continue };
            if day < before {
                self.counters
                    .remove(&k)
                    .map_err(StoreError::sled("remove quota counter"))?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.flush_if_strict()?;
        }
        Ok(removed)
    }

    // ----- layers -----

    pub(super) fn layers_register(
        &self,
        digests: &[Sha256Digest],
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        check_count(digests.len())?;
        let seen_at = now.unix_timestamp().to_be_bytes();
        let mut added = 0;
        for d in digests {
            // CAS from absent: keeps the first-seen time of layers already known, and
            // tells exactly how many were new even under concurrent registration.
            let res = self
                .layers
                .compare_and_swap(d.as_bytes(), None::<&[u8]>, Some(&seen_at[..]))
                .map_err(StoreError::sled("register layer"))?;
            if res.is_ok() {
                added += 1;
            }
        }
        if added > 0 {
            self.flush_if_strict()?;
        }
        Ok(added)
    }

    pub(super) fn layers_missing(
        &self,
        digests: &[Sha256Digest],
    ) -> StoreResult<Vec<Sha256Digest>> {
        check_count(digests.len())?;
        let mut seen = HashSet::with_capacity(digests.len());
        let mut missing = Vec::new();
        for d in digests {
            if !seen.insert(*d) {
                continue;
            }
            let known = self
                .layers
                .contains_key(d.as_bytes())
                .map_err(StoreError::sled("look up layer"))?;
            if !known {
                missing.push(*d);
            }
        }
        Ok(missing)
    }
}

fn check_count(n: usize) -> StoreResult<()> {
    if n > MAX_LAYERS_PER_CALL {
        return Err(StoreError::TooLarge {
            what: "layer digest list",
            limit: MAX_LAYERS_PER_CALL as u64,
            actual: n as u64,
        });
    }
    Ok(())
}

/// `quota/<key>/<YYYY-MM-DD>`: the key's days sort together and in date order.
fn counter_key(key: &QuotaKey, day: Date) -> String {
    format!(
        "{COUNTER_PREFIX}{}/{:04}-{:02}-{:02}",
        key.as_str(),
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn key_day(k: &[u8]) -> Option<Date> {
    let s = std::str::from_utf8(k).ok()?;
    let (_, date) = s.rsplit_once('/')?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(date, fmt).ok()
}

fn counter_value(b: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(b).ok().map(u64::from_be_bytes)
}

fn decode_counter(k: &str, b: &[u8]) -> StoreResult<u64> {
    counter_value(b).ok_or_else(|| StoreError::CorruptRecord {
        location: format!("sled counters/{k}"),
        reason: format!("expected an 8-byte counter, found {} bytes", b.len()),
    })
}

fn decision(
    allowed: bool,
    used: u64,
    limit: u32,
    day: Date,
    k: &str,
) -> StoreResult<QuotaDecision> {
    let used = u32::try_from(used).map_err(|_| StoreError::CorruptRecord {
        location: format!("sled counters/{k}"),
        reason: format!("counter {used} out of range"),
    })?;
    let resets_at = next_midnight_after(day)
        .ok_or_else(|| StoreError::invalid("quota day", format!("{day} has no following day")))?;
    Ok(QuotaDecision {
        allowed,
        limit,
        used,
        remaining: limit.saturating_sub(used),
        resets_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn counter_keys_round_trip_their_day() {
        let k = QuotaKey::new("ci-frontend").expect("key");
        let s = counter_key(&k, date!(2026 - 01 - 05));
        assert_eq!(s, "quota/ci-frontend/2026-01-05");
        assert_eq!(key_day(s.as_bytes()), Some(date!(2026 - 01 - 05)));
        assert_eq!(key_day(b"quota/x/not-a-date"), None);
    }
}
