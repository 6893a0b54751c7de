//! Playbooks: CEL rules, remedy policy, clocks and business-hours calendars. Pure.
