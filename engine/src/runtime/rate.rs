//! How the sources' event rate moves over a run: constant, a step, or a
//! sine around the configured rate. A paced source emits its n-th event
//! when [`RateShape::due_s`] says, the inverse of the events the shape
//! has asked for by then ([`RateShape::events_by`]); an autoscaler reads
//! its target from the same shape.

/// The sources' rate over time, as a factor of the configured rate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum RateShape {
    /// The configured rate throughout.
    #[default]
    Constant,
    /// `before` times the rate until `at_s` seconds, the rate after.
    Step {
        /// Seconds into the run.
        at_s: f64,
        /// Factor before the step (0 < before).
        before: f64,
    },
    /// The rate times `1 − amplitude · cos(2π t / period_s)`: from
    /// 1 − amplitude at the start up to 1 + amplitude half a period later,
    /// and back; the configured rate on average.
    Sine {
        /// Seconds of one period.
        period_s: f64,
        /// Half the swing, as a share of the rate (0 ≤ amplitude < 1).
        amplitude: f64,
    },
}

impl RateShape {
    /// Why the shape cannot be followed, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            RateShape::Constant => Ok(()),
            RateShape::Step { at_s, before } if at_s >= 0.0 && before > 0.0 && before.is_finite() => Ok(()),
            RateShape::Step { .. } => Err("a step needs a time of 0 s or more and a positive factor".into()),
            RateShape::Sine { period_s, amplitude } if period_s > 0.0 && (0.0..1.0).contains(&amplitude) => Ok(()),
            RateShape::Sine { .. } => Err("a sine needs a positive period and an amplitude in [0, 1)".into()),
        }
    }

    /// The factor at `t` seconds.
    pub fn factor_at(&self, t: f64) -> f64 {
        match *self {
            RateShape::Constant => 1.0,
            RateShape::Step { at_s, before } => {
                if t < at_s {
                    before
                } else {
                    1.0
                }
            }
            RateShape::Sine { period_s, amplitude } => {
                1.0 - amplitude * (2.0 * std::f64::consts::PI * t / period_s).cos()
            }
        }
    }

    /// Events asked for by `t` seconds at `rate` events/s: the integral of
    /// the rate.
    pub fn events_by(&self, rate: f64, t: f64) -> f64 {
        let t = t.max(0.0);
        rate * match *self {
            RateShape::Constant => t,
            RateShape::Step { at_s, before } => before * t.min(at_s) + (t - at_s).max(0.0),
            RateShape::Sine { period_s, amplitude } => {
                let w = 2.0 * std::f64::consts::PI / period_s;
                t - amplitude * (w * t).sin() / w
            }
        }
    }

    /// When the `n`-th event is due, seconds from the start, at `rate`
    /// events/s.
    /// (At most 10^12 s: a time, never infinity.)
    pub fn due_s(&self, rate: f64, n: f64) -> f64 {
        if rate <= 0.0 {
            return 1e12;
        }
        let t = match *self {
            RateShape::Constant => n / rate,
            RateShape::Step { at_s, before } => {
                let at = rate * before * at_s;
                if n <= at {
                    n / (rate * before)
                } else {
                    at_s + (n - at) / rate
                }
            }
            RateShape::Sine { amplitude, .. } => {
                // Monotone (amplitude < 1): bisection between the times at
                // the highest and the lowest rate.
                let (mut lo, mut hi) = (n / (rate * (1.0 + amplitude)), n / (rate * (1.0 - amplitude)));
                for _ in 0..60 {
                    let mid = 0.5 * (lo + hi);
                    if self.events_by(rate, mid) < n {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                0.5 * (lo + hi)
            }
        };
        t.min(1e12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_inverts_events_by_for_every_shape() {
        let shapes = [
            RateShape::Constant,
            RateShape::Step { at_s: 10.0, before: 0.5 },
            RateShape::Sine { period_s: 60.0, amplitude: 0.4 },
        ];
        for s in shapes {
            s.check().unwrap();
            for n in [0.0, 1.0, 999.0, 5_000.0, 12_345.0, 100_000.0] {
                let t = s.due_s(1000.0, n);
                assert!((s.events_by(1000.0, t) - n).abs() < 1e-6, "{s:?} n={n} t={t}");
            }
        }
        let step = RateShape::Step { at_s: 10.0, before: 0.5 };
        assert_eq!(step.events_by(1000.0, 10.0), 5000.0);
        assert_eq!(step.events_by(1000.0, 12.0), 7000.0);
        assert_eq!((step.factor_at(9.9), step.factor_at(10.0)), (0.5, 1.0));
        let sine = RateShape::Sine { period_s: 60.0, amplitude: 0.25 };
        assert!((sine.factor_at(0.0) - 0.75).abs() < 1e-12 && (sine.factor_at(30.0) - 1.25).abs() < 1e-12);
        // A whole period asks for the mean rate.
        assert!((sine.events_by(1000.0, 60.0) - 60_000.0).abs() < 1e-6);
        assert!(RateShape::Sine { period_s: 60.0, amplitude: 1.0 }.check().is_err());
        assert!(RateShape::Step { at_s: 1.0, before: 0.0 }.check().is_err());
    }
}
