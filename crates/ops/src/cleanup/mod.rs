//! Cleanup (to come).
