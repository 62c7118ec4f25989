//! placeholder
pub fn redraw(_i: &std::path::Path, _o: &std::path::Path) -> Result<(), String> {
    Err("todo".into())
}
