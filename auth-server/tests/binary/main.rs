//! Tests that run the compiled `auth-server` binary as a child process: the
//! admin commands, configuration checks at start and shutdown on SIGTERM.

mod cli;
mod config;
mod shutdown;
