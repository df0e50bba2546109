from profiling.envsafe import is_secret, safe_env


def test_secret_names_are_stripped_and_toolchain_vars_kept():
    base = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "CUDA_VISIBLE_DEVICES": "0",
        "TRITON_CACHE_DIR": "/tmp/t",
        "LD_LIBRARY_PATH": "/usr/lib",
        "OPENAI_API_KEY": "sk-1",
        "OPENAI_BASE_URL": "http://localhost:8000/v1",
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_REGION": "us-east-1",
        "HF_HOME": "/data/hf",
        "GITHUB_TOKEN": "g",
        "DB_PASSWORD": "p",
        "MY_SECRET": "s",
        "AZURE_OPENAI_ENDPOINT": "x",
        "SOME_CREDENTIALS_FILE": "/c",
        "DATABASE_URL": "postgres://user:pw@host/db",
        "MLFLOW_TRACKING_URI": "http://u:p@mlflow:5000",
        "PWD": "/work",
    }
    env = safe_env(base)
    assert set(env) == {
        "PATH",
        "HOME",
        "CUDA_VISIBLE_DEVICES",
        "TRITON_CACHE_DIR",
        "LD_LIBRARY_PATH",
        "PWD",
    }


def test_set_and_drop():
    env = safe_env(
        {"A": "1", "TRITON_INTERPRET": "1", "X_TOKEN": "t"}, {"B": "2"}, drop=("TRITON_INTERPRET",)
    )
    assert env == {"A": "1", "B": "2"}


def test_url_with_password_is_secret_but_plain_url_is_not():
    assert is_secret("SERVER", "https://alice:pw@example.com/x")
    assert not is_secret("SERVER", "https://example.com/x")


def test_cloud_credentials_are_stripped():
    for name in (
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "KUBECONFIG",
        "NETRC",
        "DIGITALOCEAN_ACCESS_TOKEN",
        "OCI_CLI_KEY_FILE",
        "VAULT_ADDR",
        "ARM_CLIENT_SECRET",
        "AZURE_CLIENT_ID",
        "AWS_SESSION_TOKEN",
    ):
        assert is_secret(name), name
    assert not is_secret("CUDA_HOME") and not is_secret("TRITON_CACHE_DIR")
