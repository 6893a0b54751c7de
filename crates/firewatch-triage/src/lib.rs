//! Multilingual hazard triage: language, hazards with evidence and modality, injuries, products, severity. Pure.
