"""The environment handed to the evaluation worker: the caller's, minus secrets.

Candidate code runs in the worker, so anything the worker's environment holds,
a candidate can read (and print, or write to a file). API keys, tokens and
passwords therefore never reach it. The rule is a deny-list (so CUDA, Triton,
compiler and locale variables a toolchain may need pass through unchanged):

- names containing KEY, TOKEN, SECRET, PASSW(ORD), PASSWD, CREDENTIAL, AUTH,
  PRIVATE, COOKIE or SESSION_ID;
- names starting with a provider prefix (OPENAI_, ANTHROPIC_, AWS_, HF_, AZURE_,
  GOOGLE_, GITHUB_, MLFLOW_, WANDB_, ...);
- values that are URLs carrying a user:password part.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SECRET_WORDS = (
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSW",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
    "COOKIE",
    "SESSION_ID",
)
SECRET_PREFIXES = (
    "OPENAI_",
    "ANTHROPIC_",
    "CLAUDE_",
    "AWS_",
    "HF_",
    "HUGGING",
    "AZURE_",
    "GOOGLE_",
    "GCP_",
    "GCLOUD_",
    "GEMINI_",
    "GITHUB_",
    "GH_",
    "GITLAB_",
    "MLFLOW_",
    "WANDB_",
    "COHERE_",
    "MISTRAL_",
    "GROQ_",
    "DEEPSEEK_",
    "TOGETHER_",
    "REPLICATE_",
    "FIREWORKS_",
    "OPENROUTER_",
    "XAI_",
    "LANGCHAIN_",
    "LANGSMITH_",
    "PYPI_",
    "TWINE_",
    "NPM_",
    "DOCKER_",
    "SLACK_",
    "DATABASE_",
    "PG",
    "MYSQL_",
    "REDIS_",
    "CLOUDSDK_",
    "DIGITALOCEAN_",
    "OCI_",
    "ALIBABA_",
    "ALICLOUD_",
    "IBM_",
    "VAULT_",
    "KUBE",
    "NETRC",
    "CLOUDFLARE_",
    "MODAL_",
    "LAMBDA_",
    "RUNPOD_",
)
# Never stripped, even if a word above matches (none of these hold secrets).
KEEP = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TERM", "TMPDIR", "PWD"})

_URL_WITH_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]+:[^/@\s]+@")


def is_secret(name: str, value: str = "") -> bool:
    """True when a variable looks like it carries a credential."""
    if name in KEEP:
        return False
    upper = name.upper()
    if any(w in upper for w in SECRET_WORDS):
        return True
    if upper.startswith(SECRET_PREFIXES):
        return True
    return bool(_URL_WITH_PASSWORD.match(value))


def safe_env(
    base: Mapping[str, str], set_vars: Mapping[str, str] | None = None, drop: tuple[str, ...] = ()
) -> dict[str, str]:
    """``base`` without secrets and without ``drop``, then ``set_vars`` applied."""
    env = {k: v for k, v in base.items() if not is_secret(k, v) and k not in drop}
    env.update(set_vars or {})
    return env
