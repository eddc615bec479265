//! `RESTYLE_WEIGHTS_DIR` is a path list, read by one parser everywhere, and
//! a folder it names must exist. The only test in this binary: it sets the
//! variable, which no other test thread may see change.

use restyle_weights::{weights_dirs_from_env, Error, ResolveOptions};

#[test]
fn weights_dir_env_is_a_path_list_everywhere_and_must_name_folders() {
    let saved = std::env::var_os("RESTYLE_WEIGHTS_DIR");
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("only-in-b.onnx"), b"x").unwrap();

    std::env::set_var("RESTYLE_WEIGHTS_DIR", std::env::join_paths([&a, &b]).unwrap());
    let from_env = weights_dirs_from_env();
    let defaults = ResolveOptions::default();
    let default_dirs = defaults.weights_dirs();
    let dev_dirs = restyle_weights::testing::weights_dirs();
    let found = restyle_weights::testing::real_weights("only-in-b.onnx");
    let ok = defaults.check();

    // `a:b` literally, and an empty entry (`a::`), on Unix.
    #[cfg(unix)]
    let literal = {
        std::env::set_var("RESTYLE_WEIGHTS_DIR", "a:b::");
        weights_dirs_from_env()
    };

    let missing = t.path().join("no-such-folder");
    std::env::set_var("RESTYLE_WEIGHTS_DIR", std::env::join_paths([&a, &missing]).unwrap());
    let bad = ResolveOptions::default().check();
    // An explicit folder replaces the variable, so its entries are not checked.
    let explicit = ResolveOptions { weights_dir: Some(a.clone()), ..Default::default() }.check();

    match saved {
        Some(v) => std::env::set_var("RESTYLE_WEIGHTS_DIR", v),
        None => std::env::remove_var("RESTYLE_WEIGHTS_DIR"),
    }

    assert_eq!(from_env, vec![a.clone(), b.clone()]);
    assert_eq!(default_dirs, vec![a.clone(), b.clone()]);
    assert_eq!(&dev_dirs[..2], &[a.clone(), b.clone()], "testing reads every entry: {dev_dirs:?}");
    assert_eq!(found, Some(b.join("only-in-b.onnx")));
    ok.unwrap();
    #[cfg(unix)]
    assert_eq!(literal, vec![std::path::PathBuf::from("a"), std::path::PathBuf::from("b")]);
    let e = bad.unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("RESTYLE_WEIGHTS_DIR") && msg.contains(&missing.display().to_string()) && msg.contains("no such folder"), "{msg}");
    explicit.unwrap();
}
