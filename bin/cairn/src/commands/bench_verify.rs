//! `cairn bench verify`: the verification overhead of a simulated workload run through the
//! node's verification policy (`cairn_compute::verify`), with cheats caught and missed.
use crate::{cli::BenchVerifyArgs, output};
use anyhow::{Result, bail};
use cairn_compute::verify::{
    Policy, PolicyError,
    sim::{SimConfig, SimError, SimReport, simulate},
};
use std::process::ExitCode;

/// The overhead the issue sets as the target.
const TARGET: f64 = 1.15;

/// The simulation's error, naming the flag to change.
fn flag_error(e: SimError) -> anyhow::Error {
    let flag = match &e {
        SimError::Share { what, .. } => match *what {
            "new-provider share" => "--new-share",
            "cheater share" => "--cheater-share",
            "cheat rate" => "--cheat-rate",
            _ => "--wasm-share",
        },
        SimError::Jobs(_) => "--jobs",
        SimError::Providers(_) => "--providers",
        SimError::Slash(_) => "--slash",
        SimError::Policy(PolicyError::PMin(_)) => "--check-floor",
        SimError::Policy(PolicyError::Samples) => "--samples",
    };
    anyhow::anyhow!("{e} (change {flag})")
}

fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn describe(r: &SimReport) -> String {
    let c = &r.config;
    let mut s = format!(
        "seed {}: {} jobs ({:.0}% train, {:.0}% wasm; 200-50,000 steps), {} providers ({} new, {} cheating on {:.0}% of their jobs); policy: k = {} segments, probation {}, p = max({}, 1/n)\n",
        c.seed,
        c.jobs,
        100.0 * (1.0 - c.wasm_share),
        100.0 * c.wasm_share,
        c.providers,
        r.new_providers,
        r.cheaters,
        100.0 * c.cheat_rate,
        c.policy.samples,
        c.policy.probation,
        c.policy.p_min
    );
    let m = &r.compute;
    s.push_str(&format!(
        "  compute (steps): useful {}, replication {}, audits {}, disputes (referees) {}\n",
        thousands(m.useful),
        thousands(m.replication),
        thousands(m.audits),
        thousands(m.disputes)
    ));
    s.push_str(&format!(
        "  verification overhead (all compute ÷ useful): {:.3} (target ≤ {TARGET})\n",
        r.overhead
    ));
    let k = &r.checks;
    s.push_str(&format!(
        "  results: {} — {} sampled audits, {} replicated, {} not checked; {} disputes, {} bisection rounds\n",
        k.results, k.audits, k.replications, k.not_checked, k.disputes, k.dispute_rounds
    ));
    let a = &r.cheats;
    s.push_str(&format!(
        "  cheats: {} attempted, {} caught before payment, {} not delivered (lease ran out, nothing paid), {} missed (paid) — caught {:.1}% of delivered cheats\n",
        a.attempted,
        a.caught,
        a.not_delivered,
        a.missed,
        100.0 * r.detection_rate
    ));
    for b in &r.by_cheat {
        s.push_str(&format!(
            "    {:<24} {:>4} attempted {:>4} caught {:>4} not delivered {:>4} missed\n",
            b.cheat, b.attempted, b.caught, b.not_delivered, b.missed
        ));
    }
    s.push_str(&format!(
        "  honest providers slashed: {}\n",
        r.honest_slashed
    ));
    if r.undelivered > 0 {
        s.push_str(&format!(
            "  jobs no provider delivered: {}\n",
            r.undelivered
        ));
    }
    let e = &r.economics;
    s.push_str(&format!(
        "  cheaters, in payments of a mean job: stolen {:.2} (work paid but not done), slashed {:.0}, forfeited {:.2}; per delivered cheat against honest work: {:+.2}\n",
        e.stolen, e.slashed, e.forfeited, e.net_per_cheat
    ));
    s
}

pub(super) fn verify(args: &BenchVerifyArgs, json: bool) -> Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mut config = SimConfig::new(args.jobs);
    if let Some(p) = args.providers {
        config.providers = p;
    }
    config.new_share = args.new_share;
    config.cheater_share = args.cheater_share;
    config.cheat_rate = args.cheat_rate;
    config.wasm_share = args.wasm_share;
    config.slash_payments = args.slash;
    config.policy = Policy {
        p_min: args.check_floor,
        probation: args.check_probation,
        samples: args.samples,
    };
    let mut reports = vec![];
    for i in 0..args.runs {
        config.seed = args.seed.wrapping_add(u64::from(i));
        reports.push(simulate(&config).map_err(flag_error)?);
    }
    let range = |f: &dyn Fn(&SimReport) -> f64| {
        let v: Vec<f64> = reports.iter().map(f).collect();
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (min, v.iter().sum::<f64>() / v.len() as f64, max)
    };
    let overhead = range(&|r| r.overhead);
    let detection = range(&|r| r.detection_rate);
    let net = range(&|r| r.economics.net_per_cheat);
    let honest: u64 = reports.iter().map(|r| r.honest_slashed).sum();
    let missed: u64 = reports.iter().map(|r| r.cheats.missed).sum();
    let attempted: u64 = reports.iter().map(|r| r.cheats.attempted).sum();
    if json {
        let r3 = |(min, mean, max): (f64, f64, f64)| serde_json::json!({ "min": min, "mean": mean, "max": max });
        output::json(&serde_json::json!({
            "runs": reports,
            "summary": {
                "overhead": r3(overhead),
                "target": TARGET,
                "detectionRate": r3(detection),
                "netPerCheat": r3(net),
                "cheatsAttempted": attempted,
                "cheatsMissed": missed,
                "honestSlashed": honest,
            },
        }));
    } else {
        let mut s = String::from(
            "verification overhead on a simulated workload (a model: audits cost k/segments of a job, a replica the whole job, a referee one segment)\n",
        );
        for r in &reports {
            s.push_str(&describe(r));
        }
        if reports.len() > 1 {
            s.push_str(&format!(
                "{} runs: overhead {:.3}-{:.3} (mean {:.3}), detection {:.1}-{:.1}% (mean {:.1}%), {missed} of {attempted} cheats missed, honest providers slashed {honest}, cheater per cheat {:+.2} to {:+.2} payments\n",
                reports.len(),
                overhead.0,
                overhead.2,
                overhead.1,
                100.0 * detection.0,
                100.0 * detection.2,
                100.0 * detection.1,
                net.0,
                net.2
            ));
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}
