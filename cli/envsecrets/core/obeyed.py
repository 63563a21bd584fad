"""Environment variables that programs obey: names a secret must not become by accident.

`run` and `export` name a variable after a secret's path (`dev/aws-config` becomes
`AWS_CONFIG_FILE`, `dev/pythonpath` with `--env-vars` becomes `PYTHONPATH`). Some names are
orders, not data: the dynamic loader loads the library `LD_PRELOAD` names, bash runs the file
`BASH_ENV` names and `PROMPT_COMMAND` at every prompt, Python imports from `PYTHONPATH`, every
AWS SDK runs a config file's `credential_process`, a CA bundle decides whom TLS trusts. A
secret that becomes one of them runs code, or redirects trust, as every developer who uses
`run` or `export` on its scope: anyone who may write one secret of the environment could.

So a variable we would set (`NAME` for a value, `NAME_FILE` for a file's path) is refused when
its name is in OBEYED or starts with one of OBEYED_PREFIXES, unless the user named that secret
exactly with `--only` (then it is set, with a warning). The list covers loaders, shells,
language runtimes, package managers, version control, TLS trust and cloud SDKs; it cannot be
complete, and says so in the README.
"""

from __future__ import annotations

OBEYED = frozenset(
    {
        # Dynamic loaders and C libraries.
        "GCONV_PATH",
        "HOSTALIASES",
        "LOCPATH",
        "NLSPATH",
        "OPENSSL_CONF",
        "OPENSSL_ENGINES",
        "OPENSSL_MODULES",
        "RES_OPTIONS",
        # Shells: files they source, commands they run, where they look.
        "BASH_ENV",
        "CDPATH",
        "ENV",
        "FPATH",
        "GLOBIGNORE",
        "HISTFILE",
        "HOME",
        "IFS",
        "INPUTRC",
        "MAIL",
        "MAILCHECK",
        "MAILPATH",
        "PATH",
        "PROMPT",
        "PROMPT_COMMAND",
        "PS0",
        "PS1",
        "PS2",
        "PS3",
        "PS4",
        "RPROMPT",
        "SHELL",
        "SHELLOPTS",
        "BASHOPTS",
        "TMOUT",
        "ZDOTDIR",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        # Programs that other programs start.
        "BROWSER",
        "EDITOR",
        "EXINIT",
        "GIT_ASKPASS",
        "GIT_EDITOR",
        "GIT_EXEC_PATH",
        "GIT_EXTERNAL_DIFF",
        "GIT_PAGER",
        "GIT_PROXY_COMMAND",
        "GIT_SEQUENCE_EDITOR",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_TEMPLATE_DIR",
        "GIT_CONFIG",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
        "LESSOPEN",
        "LESSCLOSE",
        "MANPAGER",
        "MYVIMRC",
        "PAGER",
        "SSH_ASKPASS",
        "SUDO_ASKPASS",
        "SYSTEMD_PAGER",
        "VIMINIT",
        "VISUAL",
        # Language runtimes: code loaded or run at start.
        "CLASSPATH",
        "CORECLR_ENABLE_PROFILING",
        "CORECLR_PROFILER",
        "CORECLR_PROFILER_PATH",
        "DOTNET_STARTUP_HOOKS",
        "GOFLAGS",
        "JAVA_TOOL_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "_JAVA_OPTIONS",
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERL5DB",
        "PERL5LIB",
        "PERL5OPT",
        "PERLLIB",
        "PYTHONBREAKPOINT",
        "PYTHONHOME",
        "PYTHONINSPECT",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "PYTHONWARNINGS",
        "RUBYLIB",
        "RUBYOPT",
        "BUNDLE_GEMFILE",
        "R_PROFILE",
        "R_PROFILE_USER",
        # Package managers and build tools: where code comes from.
        "CARGO_BUILD_RUSTC_WRAPPER",
        "RUSTC_WRAPPER",
        "CC",
        "CXX",
        "MAKEFLAGS",
        "PIP_CONFIG_FILE",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "PIP_INDEX_URL",
        "PIP_TRUSTED_HOST",
        "UV_INDEX_URL",
        "UV_EXTRA_INDEX_URL",
        "YARN_RC_FILENAME",
        "COREPACK_NPM_REGISTRY",
        "GOPROXY",
        "GONOSUMDB",
        "GOSUMDB",
        "GOINSECURE",
        "UV_DEFAULT_INDEX",
        "UV_INDEX",
        "UV_FIND_LINKS",
        "GNUMAKEFLAGS",
        "MFLAGS",
        "RUSTC",
        "RUSTDOC",
        "CCACHE_PREFIX",
        "LUA_INIT",
        "GRADLE_OPTS",
        "MAVEN_OPTS",
        "JAVA_OPTS",
        "TAR_OPTIONS",
        "RSYNC_RSH",
        "CVS_RSH",
        "HGRCPATH",
        "KUBE_EDITOR",
        "KUBECTL_EXTERNAL_DIFF",
        "TF_CLI_ARGS",
        "CARGO_HOME",
        "YARN_NPM_REGISTRY_SERVER",
        "YARN_REGISTRY",
        "YARN_PLUGINS",
        "ANSIBLE_SSH_ARGS",
        "ANSIBLE_SSH_COMMON_ARGS",
        "ANSIBLE_SSH_EXECUTABLE",
        "ANSIBLE_BECOME_EXE",
        "ANSIBLE_LIBRARY",
        "ANSIBLE_CALLBACK_PLUGINS",
        "ANSIBLE_CONFIG",
        "COMPOSE_FILE",
        "DOCKER_CONFIG",
        "DOCKER_HOST",
        "KUBECONFIG",
        "TF_CLI_CONFIG_FILE",
        "TERRAFORM_CONFIG",
        "TF_PLUGIN_CACHE_DIR",
        # TLS trust and proxies: who sees and who is believed.
        "AWS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_DIR",
        "SSL_CERT_FILE",
        "ALL_PROXY",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        # Cloud SDKs: config files whose settings run commands (credential_process, exec).
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "BOTO_CONFIG",
        "CLOUDSDK_CONFIG",
        "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
        # Where requests go and what is written about them.
        "AWS_ENDPOINT_URL",
        "SSLKEYLOGFILE",
        "TMPDIR",
    }
)
# Families obeyed as a whole: the loaders' (LD_AUDIT, DYLD_INSERT_LIBRARIES...), bash's exported
# functions, npm's settings (npm_config_script_shell, npm_config_node_options...), Cargo's
# runners and build settings (CARGO_TARGET_<triple>_RUNNER, CARGO_BUILD_RUSTC_WRAPPER), the
# per-service AWS endpoints (AWS_ENDPOINT_URL_SECRETS_MANAGER) and Terraform's per-command
# arguments (TF_CLI_ARGS_apply). Wider families (CARGO_, YARN_, ANSIBLE_) also hold the tokens
# people keep as secrets (CARGO_REGISTRY_TOKEN, YARN_NPM_AUTH_TOKEN): their obeyed members are
# named one by one above instead.
OBEYED_PREFIXES = (
    "LD_",
    "DYLD_",
    "BASH_FUNC_",
    "NPM_CONFIG_",
    "CARGO_TARGET_",
    "CARGO_BUILD_",
    "AWS_ENDPOINT_URL_",
    "TF_CLI_ARGS_",
)


def is_obeyed(variable: str) -> bool:
    """Whether programs, loaders, shells or SDKs take `variable` as an order (case aside:
    npm reads `npm_config_*` in any case, and our names are upper case anyway)."""
    name = variable.upper()
    return name in OBEYED or name.startswith(OBEYED_PREFIXES)
