//! SEISMIC reach forecasting for social cascades. Pure.
