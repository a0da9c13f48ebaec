//! `--policy` and its options to a policy; for `mrc`, the hit-ratio curves
//! of a profile (`--profile DIR`, or one made now).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use autoscaler::policy::ds2::{Ds2, Ds2Params};
use autoscaler::policy::flink::{Flink, FlinkParams};
use autoscaler::policy::justin::{Justin, JustinParams};
use autoscaler::policy::mrc::{MrcParams, MrcPolicy, ProfiledCurve};
use autoscaler::Policy;
use cachesim::size::{format_size, parse_size};

use crate::cache_model::Profile;
use crate::cli::{AutoscaleArgs, JustinDefaultsArg, PolicyArg};
use crate::job::parse_duration;

/// The policy `a` asks for. `stateful` names the job's stateful operators
/// in topological order when they are not the engine's (a Flink job's):
/// the `mrc` policy's curves, a profile of the engine's, are theirs in that
/// order.
pub fn build(a: &AutoscaleArgs, stateful: Option<&[String]>) -> Result<Box<dyn Policy>> {
    if !(a.scaling_factor >= 0.0 && a.scaling_factor.is_finite()) {
        bail!("--scaling-factor {}: must be 0 or more", a.scaling_factor);
    }
    let ds2 = Ds2Params {
        scaling_factor: a.scaling_factor,
        target_rate_ratio: match a.target_rate_ratio {
            Some(r) if !(r >= 1.0 && r.is_finite()) => bail!("--target-rate-ratio {r}: must be at least 1"),
            Some(r) => r,
            None => f64::INFINITY,
        },
        ..Ds2Params::default()
    };
    Ok(match a.policy {
        PolicyArg::Ds2 => Box::new(Ds2::new(ds2)),
        PolicyArg::Justin => {
            let base = match &a.justin_base {
                Some(s) => parse_size(s).map_err(|e| anyhow!("--justin-base: {e}"))?,
                None => start_cache(a)?,
            };
            if base < 1 << 20 {
                bail!("--justin-base {}: at least 1MiB", format_size(base));
            }
            let mut p = match a.justin_defaults {
                JustinDefaultsArg::Code => JustinParams::code(base),
                JustinDefaultsArg::Paper => JustinParams::paper(base),
            };
            p.ds2 = ds2;
            if let Some(h) = a.justin_hit_min {
                if !(0.0..=1.0).contains(&h) {
                    bail!("--justin-hit-min {h}: must be within 0 and 1");
                }
                p.hit_min = h;
            }
            if let Some(l) = a.justin_latency_us {
                if !(l > 0.0 && l.is_finite()) {
                    bail!("--justin-latency-us {l}: must be positive");
                }
                p.latency_us = l;
            }
            Box::new(Justin::new(p))
        }
        PolicyArg::Flink => {
            if !(a.flink_utilization > 0.0 && a.flink_utilization <= 1.0) {
                bail!("--flink-utilization {}: must be in (0, 1]", a.flink_utilization);
            }
            let delay = parse_duration("--flink-scale-down-delay", &a.flink_scale_down_delay)?;
            Box::new(Flink::new(FlinkParams {
                utilization: a.flink_utilization,
                scale_down_delay_s: delay.as_secs_f64(),
                ..FlinkParams::default()
            }))
        }
        PolicyArg::Mrc => {
            for (name, v) in [("--core-price", a.core_price), ("--gib-price", a.gib_price)] {
                if !(v > 0.0 && v.is_finite()) {
                    bail!("{name} {v}: a price must be positive");
                }
            }
            if !(a.headroom > 0.0 && a.headroom <= 1.0) {
                bail!("--headroom {}: must be in (0, 1]", a.headroom);
            }
            let cores = match a.cores {
                Some(c) if !(c >= 0.0 && c.is_finite()) => bail!("--cores {c}: must be 0 or more"),
                Some(0.0) => None,
                Some(c) => Some(c),
                None => std::thread::available_parallelism().ok().map(|n| n.get() as f64),
            };
            let horizon = crate::job::parse_duration("--horizon", &a.horizon)?;
            let params = MrcParams {
                horizon_s: horizon.as_secs_f64(),
                core_price: a.core_price,
                gib_price: a.gib_price,
                utilization: a.headroom,
                cores,
                ..MrcParams::default()
            };
            let profile = match &a.profile {
                Some(dir) => read_profile(dir)?,
                None => profile_now(a)?,
            };
            let mut curves = curves(&profile)?;
            if let Some(names) = stateful {
                curves = rename_curves(&profile, curves, names)?;
            }
            Box::new(MrcPolicy::new(params, curves))
        }
    })
}

/// The start cache when one size is given for every operator (else the
/// largest named).
fn start_cache(a: &AutoscaleArgs) -> Result<u64> {
    let mut largest = 0;
    for part in a.start_cache.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v = part.split_once('=').map_or(part, |(_, v)| v);
        largest = largest.max(parse_size(v).map_err(|e| anyhow!("--start-cache: {e}"))?);
    }
    Ok(largest)
}

/// The curves of every stateful operator of a profile, with the size of
/// its state at the profile's end.
pub fn curves(profile: &Profile) -> Result<HashMap<String, ProfiledCurve>> {
    profile
        .operators
        .iter()
        .map(|m| {
            let curve = crate::cache_model::hit_curve(&m.points)
                .ok_or_else(|| anyhow!("the profile's curve of `{}` has no point", m.name))?;
            let state_bytes = profile.run.operators.iter().find(|o| o.name == m.name).map_or(0, |o| o.state_bytes);
            Ok((m.name.clone(), ProfiledCurve { curve, state_bytes }))
        })
        .collect()
}

/// The curves under the names of another engine's stateful operators,
/// matched in topological order (the profile lists its operators in that
/// order); names both share keep their curve.
fn rename_curves(
    profile: &Profile,
    mut curves: HashMap<String, ProfiledCurve>,
    names: &[String],
) -> Result<HashMap<String, ProfiledCurve>> {
    if names.iter().all(|n| curves.contains_key(n)) {
        return Ok(curves);
    }
    if names.len() != profile.operators.len() {
        bail!(
            "--profile: it models {} stateful operator(s) ({}), the job has {} ({}): profile the same query",
            profile.operators.len(),
            profile.operators.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
            names.len(),
            names.join(", ")
        );
    }
    Ok(profile
        .operators
        .iter()
        .zip(names)
        .filter_map(|(m, n)| curves.remove(&m.name).map(|c| (n.clone(), c)))
        .collect())
}

/// profile.json in `dir`.
fn read_profile(dir: &Path) -> Result<Profile> {
    let path = dir.join("profile.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("--profile: cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("--profile: {} is not a memscale profile", path.display()))
}

/// Sizes a profile models for the autoscaler: 24, log-spaced, 2 MiB to
/// 2 GiB (a curve read on a log axis needs its points spread on one).
fn profile_sizes() -> Vec<u64> {
    (0..24).map(|i| ((2u64 << 20) as f64 * 1024f64.powf(i as f64 / 23.0)) as u64).collect()
}

/// Profiles the query at its start configuration into OUT/profile.
fn profile_now(a: &AutoscaleArgs) -> Result<Profile> {
    profile_into(a, &a.out.join("profile"))
}

/// Profiles the job `a` describes (its start configuration, over
/// `--profile-events` events) into `dir`, writing `dir/profile.json`.
pub fn profile_into(a: &AutoscaleArgs, dir: &Path) -> Result<Profile> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut args = super::job_args(a);
    args.duration = None;
    args.events = Some(a.profile_events);
    let mut setup = args.setup(dir)?;
    eprintln!(
        "profiling {} ({} events) for the model; give --profile DIR to reuse one",
        setup.query.name(),
        a.profile_events
    );
    let profile = crate::profile_cmd::profile(&mut setup, dir, &profile_sizes(), 0.9, false)?;
    let _ = std::fs::remove_dir_all(dir.join("blocktrace"));
    crate::output::write_json(&profile, &dir.join("profile.json"))?;
    for m in &profile.operators {
        eprintln!(
            "  {}: hit ratio {:.3} measured at {}; knee {}, 0.9 at {}",
            m.name,
            m.measured_hit_ratio.unwrap_or(0.0),
            format_size(m.cache_size),
            m.knee.map_or("-".into(), format_size),
            m.size_for_target.map_or("beyond 2GiB".into(), format_size)
        );
    }
    Ok(profile)
}
