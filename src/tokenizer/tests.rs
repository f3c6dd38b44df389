//! Unit tests of the tokenizer view over small hand-made sections.
