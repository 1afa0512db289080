//! The example gateway under test: the binary run as a real process, and the backends and
//! environments it is run against.

pub mod backends;
pub mod process;
