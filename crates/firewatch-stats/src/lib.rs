//! Defect-signal statistics: Poisson intervals, disproportionality, Gamma-Poisson Shrinker, MaxSPRT. Pure.
