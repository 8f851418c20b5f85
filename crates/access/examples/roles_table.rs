//! Print the roles table for README.md: `cargo run -q -p access --example roles_table`.
fn main() {
    print!("{}", access::matrix_markdown());
}
