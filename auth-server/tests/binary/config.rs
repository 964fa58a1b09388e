//! The binary rejects invalid settings at start, naming the variable, and
//! reads an optional config file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn auth_server(
    data_dir: &std::path::Path,
    variables: &[(&str, &str)],
    arguments: &[&str],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_auth-server"));
    command
        .args(arguments)
        .env_clear()
        .env("AUTH_DATA_DIR", data_dir)
        .env("AUTH_BIND", "127.0.0.1:0")
        .env("AUTH_BCRYPT_COST", "4");
    for (name, value) in variables {
        command.env(name, value);
    }
    command.output().expect("run auth-server")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn invalid_settings_name_the_variable() {
    let data_dir = tempfile::tempdir().unwrap();
    let not_a_key = data_dir.path().join("not-a-key.pem");
    std::fs::write(
        &not_a_key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let not_a_key = not_a_key.to_str().unwrap().to_owned();

    let cases: [(&str, &str); 6] = [
        ("AUTH_ISSUER", "not a url"),
        ("AUTH_ACCESS_TOKEN_TTL_SECS", "0"),
        ("AUTH_BCRYPT_COST", "99"),
        ("AUTH_ALLOWED_ORIGINS", "not an origin"),
        ("AUTH_SIGNING_KEY_FILE", "/nonexistent/key.pem"),
        ("AUTH_SIGNING_KEY_FILE", &not_a_key),
    ];
    for (variable, value) in cases {
        let output = auth_server(data_dir.path(), &[(variable, value)], &[]);
        assert!(
            !output.status.success(),
            "{variable}={value} must stop the server"
        );
        let stderr = stderr_of(&output);
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
}

#[test]
fn config_file_is_read_and_checked() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = data_dir.path().join("from-file.db");
    let config = data_dir.path().join("auth.env");
    std::fs::write(
        &config,
        format!("AUTH_DATABASE_URL={}\n", database.display()),
    )
    .unwrap();

    let output = auth_server(
        data_dir.path(),
        &[("AUTH_CONFIG_FILE", config.to_str().unwrap())],
        &["migrate"],
    );
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(database.exists(), "the database URL from the file is used");

    std::fs::write(&config, "AUTH_ISUER=http://typo.example\n").unwrap();
    let output = auth_server(
        data_dir.path(),
        &[("AUTH_CONFIG_FILE", config.to_str().unwrap())],
        &["migrate"],
    );
    assert!(!output.status.success());
    assert!(
        stderr_of(&output).contains("unknown setting AUTH_ISUER"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn every_command_has_help() {
    let data_dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 10] = [
        &["--help"],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["create-superuser", "--help"],
        &["activate-user", "--help"],
        &["deactivate-user", "--help"],
        &["grant-permission", "--help"],
        &["revoke-permission", "--help"],
        &["keys", "rotate", "--help"],
        &["keys", "retire", "--help"],
    ];
    for arguments in commands {
        let output = auth_server(data_dir.path(), &[], arguments);
        assert!(output.status.success(), "{arguments:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage"),
            "{arguments:?}"
        );
    }
}

#[test]
fn admin_commands_fail_with_a_message() {
    let data_dir = tempfile::tempdir().unwrap();

    let missing_user = auth_server(
        data_dir.path(),
        &[],
        &["deactivate-user", "nobody@example.com"],
    );
    assert!(!missing_user.status.success());
    assert!(stderr_of(&missing_user).contains("no user has the email nobody@example.com"));

    let mut create = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["create-superuser", "--email", "root@example.com"])
        .env_clear()
        .env("AUTH_DATA_DIR", data_dir.path())
        .env("AUTH_BCRYPT_COST", "4")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    let created = create.wait_with_output().unwrap();
    assert!(created.status.success(), "{}", stderr_of(&created));
    assert!(
        String::from_utf8_lossy(&created.stdout).contains("created superuser root@example.com")
    );

    let duplicate = auth_server(
        data_dir.path(),
        &[("AUTH_SUPERUSER_PASSWORD", "correct horse battery")],
        &["create-superuser", "--email", "ROOT@example.com"],
    );
    assert!(!duplicate.status.success());
    assert!(stderr_of(&duplicate).contains("already exists"));

    let bad_permission = auth_server(
        data_dir.path(),
        &[],
        &["grant-permission", "root@example.com", "Not Valid"],
    );
    assert!(!bad_permission.status.success());
    assert!(stderr_of(&bad_permission).contains("not a permission name"));
}
