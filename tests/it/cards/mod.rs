//! The Adaptive Cards: every template with its samples against Microsoft's expander, schema and
//! renderer (`templates.rs`), and every card the bot really sends (`sent.rs`).

mod sent;
mod templates;
