//! `aq`: the command-line front door to every part of aq.
//!
//! Each command group lives in its own module under `cmd/`; this file only parses the command line
//! and dispatches. Exit codes: 0 success, 1 the check ran and found a problem (e.g. a forged
//! record), 2 usage or input error.

#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// aq gives an industrial control system fleet evidence instead of paperwork.
#[derive(Debug, Parser)]
#[command(name = "aq", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(subcommand)]
    Record(cmd::record::RecordCmd),
    #[command(subcommand)]
    Ca(cmd::ca::CaCmd),
    #[command(subcommand)]
    Device(cmd::device::DeviceCmd),
    /// Run the collector/verifier service (or `--init` a data directory).
    Serve(cmd::serve::ServeArgs),
    /// The main job: a simulated plant, every attack of the design, what aq caught and how fast.
    Demo(cmd::demo::DemoArgs),
    /// A fleet of simulated devices (fleet file) against a running server, with attacks and faults.
    Sim(Box<cmd::sim::SimArgs>),
    /// IEC 62443-3-2 zones of a running server: create, update, delete, assign devices, list.
    #[command(subcommand)]
    Zone(cmd::zone::ZoneCmd),
    /// Conduits between zones and the flows they allow.
    #[command(subcommand)]
    Conduit(cmd::zone::ConduitCmd),
    /// IEC 62443 evidence of a zone or the site (JSON or HTML), with the cross-regime view.
    Report(cmd::report::ReportArgs),
    /// Advisories (CSAF, OSV): which devices they hit by zone, VEX, NIS2/CRA report drafts.
    #[command(subcommand)]
    Advisory(cmd::advisory::AdvisoryCmd),
    /// Attested SBOMs across the fleet: query components, show a device, upload a document.
    #[command(subcommand)]
    Sbom(cmd::sbom::SbomCmd),
    /// A transparency-log witness (C2SP tlog-witness): init, add-log, serve, show.
    #[command(subcommand)]
    Witness(cmd::witness::WitnessCmd),
    /// The server's transparency log: checkpoint, entry, proofs, evidence bundle export.
    #[command(subcommand)]
    Log(cmd::log::LogCmd),
    /// Verify an evidence bundle offline (signatures, chains, inclusion, consistency, witnesses).
    Audit(cmd::audit::AuditArgs),
    /// Benchmarks against real services (e.g. ingest load on a real `aq serve`).
    #[command(subcommand)]
    Bench(cmd::bench::BenchCmd),
    /// SIEM/historian export sinks: test one, list them.
    #[command(subcommand)]
    Export(cmd::export::ExportCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Record(c) => cmd::record::run(c),
        Command::Ca(c) => cmd::ca::run(c),
        Command::Device(c) => cmd::device::run(c),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Sim(a) => cmd::sim::run(*a),
        Command::Zone(c) => cmd::zone::run_zone(c),
        Command::Conduit(c) => cmd::zone::run_conduit(c),
        Command::Report(a) => cmd::report::run(a),
        Command::Advisory(c) => cmd::advisory::run(c),
        Command::Sbom(c) => cmd::sbom::run(c),
        Command::Witness(c) => cmd::witness::run(c),
        Command::Log(c) => cmd::log::run(c),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Export(c) => cmd::export::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aq: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
