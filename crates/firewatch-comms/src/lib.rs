//! Statements, recall notices and regulator exports. Pure.
