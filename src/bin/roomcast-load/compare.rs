//! placeholder
#[derive(clap::Args, Clone, Debug)]
pub struct CompareArgs {}
pub async fn run(_a: CompareArgs) -> Result<i32, String> {
    Err("todo".into())
}
