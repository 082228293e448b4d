//! Time comes from a clock so that tests and jobs can fix it.

use jiff::Timestamp;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that always answers the same instant.
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A clock a test moves by hand.
pub struct ManualClock(std::sync::Mutex<Timestamp>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        ManualClock(std::sync::Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.lock().map(|t| *t).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// Where new ids come from: UUID v7 (time-ordered), with random bits from the OS, or from a
/// seed so that a seeded demo produces the same ids every time.
pub trait IdSource: Send + Sync {
    fn new_id(&self, at: Timestamp) -> uuid::Uuid;
    /// 64 random bits for public numbers and reporters' secrets: from the operating system's
    /// generator, or from the seed.
    fn random_bits(&self) -> u64;
}

pub struct RandomIds;

impl IdSource for RandomIds {
    fn new_id(&self, at: Timestamp) -> uuid::Uuid {
        let _ = at; // the OS clock stamps v7 ids; `at` matters only to seeded sources
        uuid::Uuid::now_v7()
    }
    fn random_bits(&self) -> u64 {
        use chacha20poly1305::aead::rand_core::RngCore;
        chacha20poly1305::aead::OsRng.next_u64()
    }
}

/// v7 ids stamped with the given time and seeded random bits.
pub struct SeededIds(std::sync::Mutex<rand_chacha::ChaCha8Rng>);

impl SeededIds {
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        SeededIds(std::sync::Mutex::new(
            rand_chacha::ChaCha8Rng::seed_from_u64(seed),
        ))
    }
}

impl IdSource for SeededIds {
    fn new_id(&self, at: Timestamp) -> uuid::Uuid {
        use rand::RngCore;
        let mut bytes = [0u8; 10];
        if let Ok(mut rng) = self.0.lock() {
            rng.fill_bytes(&mut bytes);
        }
        let millis = u64::try_from(at.as_millisecond()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }
    fn random_bits(&self) -> u64 {
        use rand::RngCore;
        self.0.lock().map(|mut rng| rng.next_u64()).unwrap_or(0)
    }
}
