/**
 * What `pollpray init` writes: a commented starter config that passes `pollpray
 * validate` as written (a unit test loads it) and explains every key the schema knows
 * (a unit test checks that too, so a new key cannot be forgotten here).
 */
export const STARTER_CONFIG = `# pollpray configuration: one file, many targets.
# Check it with \`pollpray validate\`; every problem is reported with its line.
# Editors can complete keys (\`pollpray schema\` prints the JSON Schema); add this first line:
#   # yaml-language-server: $schema=<pollpray's install dir>/schema/pollpray.schema.json
# Durations are a whole number and one unit: 500ms, 30s, 10m, 2h, 14d.
# Relative file paths are resolved against the directory of this file.

# Where per-target state (deployed commit, history, locks) is kept.
# Default: /var/lib/pollpray for root, ~/.local/state/pollpray otherwise.
# state_dir: /var/lib/pollpray

log:
  # dir: /var/log/pollpray         # default: /var/log/pollpray for root, <state_dir>/log otherwise
  level: info                      # error | warn | info | debug
  retention: 14d                   # daily files older than this are removed
  compress: true                   # gzip rotated days
  format: text                     # text, or json (one object per line)

concurrency: 4                     # targets worked on at once
splay: 0s                          # deterministic per-host delay before polling (spreads a fleet out)
schedule: "*/5 * * * *"            # cron expression used by \`pollpray daemon\` and \`pollpray cron install\`
# What restarts the units or programs in each target's restart: list (a target may set its own):
#   systemd (default): sudo -n <systemctl> restart <unit>
#   service (SysV/OpenRC init scripts, no systemd): sudo -n <service> <name> restart
#   supervisorctl (supervisord): sudo -n <supervisorctl> [-c <supervisor_config>] restart <program>
# service_manager: systemd
systemctl: /usr/bin/systemctl      # absolute paths of the managers' commands (sudoers names them)
# service: /usr/sbin/service
# supervisorctl: /usr/bin/supervisorctl
# supervisor_config: /etc/supervisor/supervisord.conf   # passed as -c; default: supervisorctl's own

# Environment variables whose values are secrets: redacted from every log line, error,
# state file and notification (from a target's env: or pollpray's own environment).
# secret_env: [DATABASE_URL, SENTRY_DSN]

# Tell someone when it breaks (README "Know when it breaks"). Events: deployed, failed,
# recovered, refused, quarantined, unverified. A target failing every cycle notifies
# once, then recovered once. A slow or failing notifier never fails the run.
# notify:
#   - # a webhook: JSON POST with a Slack-compatible "text" field and the event's fields
#     webhook: https://hooks.slack.com/services/T000/B000/XXXX
#     on: [failed, recovered, refused, quarantined, unverified]  # the default (add deployed for a deploy feed)
#     timeout: 10s                  # per delivery
#   - # a command hook: argv (never a shell), the event in POLLPRAY_* variables and as JSON on stdin
#     command: [/usr/local/bin/page-oncall, --team, web]
#     on: [failed]

# Prometheus textfile-collector file, replaced atomically after each run.
# metrics_file: /var/lib/node_exporter/textfile/pollpray.prom
# Dead-man's switch (healthchecks style): pinged after each run; <url>/fail when a target failed.
# heartbeat_url: https://hc-ping.com/your-uuid
# heartbeat_timeout: 10s

# Optional webhook accelerator for \`pollpray serve\` (polling stays the source of truth):
# serve:
#   listen: "127.0.0.1:9876"       # host:port; loopback unless you put a relay or proxy in front
#   secret_file: /etc/pollpray/webhook.secret   # the forge's webhook secret (GitHub/Gitea HMAC, GitLab token)
#   allow: [github.com/acme/todo]  # host/owner/name (or host/owner/*) allowed to trigger; others get 404
#   workers: 2                     # cycles run at once from the webhook queue

# Fleets: when many hosts run the same app, they take turns through a Redis server
# (see "Running a fleet" in the README). Leave this out on a single host.
# host_id: web-03                  # this host's name in its fleet; default: the host name
#                                  # (the POLLPRAY_HOST_ID environment variable overrides it)
# coordination:
#   redis: redis://10.0.0.5:6379/0 # the group's Redis (or Valkey); credentials here are redacted
#   password_file: /etc/pollpray/redis.password   # or keep the password out of the URL
#   group: todo-prod               # hosts with the same group coordinate (one per app and env)
#   max_in_flight: 2               # hosts of the group deploying at once
#   canary: false                  # true: this host deploys a commit first; others wait for it
#   wait: 0s                       # how long a run waits for a slot or a canary before skipping
#   lease: 30s                     # a slot held by a host killed mid-deploy frees after this
#   on_unavailable: wait           # Redis unreachable: wait (keep serving), or deploy uncoordinated
#   stale_after: 15m               # fleet status flags hosts silent for longer than this
#   require_canary: false          # true on followers: never deploy a commit no canary reported healthy,
#                                  # even before any canary host has run (a brand-new group)

# Settings every target inherits unless it sets its own.
defaults:
  branch: main                     # branch to follow
  deploy_timeout: 10m              # the deploy script's whole process group is killed after this
  git_timeout: 2m                  # limit for each ls-remote / fetch / clone
  on_force_push: follow            # follow: move to the rewritten branch; refuse: stop and report
  max_attempts: 3                  # failures of one commit before it is quarantined until a new commit
                                   # (retries wait 5m, 15m, 45m, ... between attempts)
  min_free_space: 100MB            # releases: refuse to build a release below this free space at path

targets:
  # Target names: lowercase letters, digits, ".", "_", "-"; used in logs, state and locks.
  todo:
    # The remote, reached over ssh with a read-only deploy key. An ssh alias
    # (Host github.com-todo in ssh config) keeps one key per repository.
    repo: git@github.com:acme/todo.git
    ssh:
      key: /etc/pollpray/keys/todo_ed25519       # private deploy key (used with IdentitiesOnly)
      known_hosts: /etc/pollpray/known_hosts     # pinned host keys: pollpray trust-host <host>
      # port: 22                                 # ssh port, when not in the repo URL
      # user: git                                # ssh user, when not in the repo URL
      # config: /etc/pollpray/ssh_config         # an ssh_config file (for Host aliases)
      connect_timeout: 10s
    branch: main                   # overrides defaults.branch
    # tags: "v*"                   # instead of branch: deploy the newest tag matching a glob
                                   # ("v*") or a version range (">=1.0.0 <2"); the checkout is
                                   # detached at the tag's commit, POLLPRAY_TAG names it
    path: /var/www/todo            # absolute: the working clone (in-place) or the releases root
    strategy: in-place             # in-place resets the clone to the exact commit; or releases,
                                   # which builds in releases/<time>-<sha>, switches the
                                   # current symlink atomically and rolls back on failure
    # keep_releases: 5             # releases only: how many old releases to keep for rollback
    # shared: [media, .env]        # releases only: paths linked into every release from <path>/shared/
    # min_free_space: 500MB        # releases only: overrides defaults.min_free_space (B, KB, MB, GB, TB)
    # Big repositories and monorepos (see "Submodules, Git LFS and big repositories"):
    # clone: { filter: blob:none }   # partial clone: file contents fetched only for the deployed commit
    # clone_timeout: 30m           # limit for the first fetch into an empty clone (git_timeout after)
    # paths: [site/]               # deploy only these paths (sparse checkout / partial export)
    # submodules: recursive        # fetch submodules with this target's key; otherwise a warning names them
    # lfs: true                    # fetch Git LFS objects (needs git-lfs); otherwise an LFS commit is refused
    # lfs: { url: "https://lfs.example.com/acme/app.git/info/lfs" }   # LFS objects kept on another server
    deploy: deploy.sh              # executable run in the new code's directory after the update
    # Or, instead of deploy:, a pipeline of steps run in order (the first failure stops it).
    # run is a command as a list (never a shell line) or a script path. {{target}} {{sha}}
    # {{short_sha}} {{previous_sha}} {{step.name}} may be arguments; text from the repository
    # ({{branch}} {{tag}} {{subject}} {{step.output}}) only goes into messages; scripts
    # read it as $POLLPRAY_BRANCH, $POLLPRAY_TAG, $POLLPRAY_SUBJECT, $POLLPRAY_STEP_OUTPUT.
    # steps:
    #   - name: migrate
    #     run: [.venv/bin/python, manage.py, migrate, --noinput]
    #     timeout: 5m
    #     env: { DEPLOYED: "{{short_sha}}" }
    #     on_success: { run: [/usr/local/bin/mark-deployed, "{{sha}}"] }
    #     on_failure: { message: "{{target}}: {{step.name}} failed at {{short_sha}}", webhook: https://chat.example.com/hooks/T000 }
    deploy_timeout: 10m            # overrides defaults.deploy_timeout
    git_timeout: 2m                # overrides defaults.git_timeout
    env:                           # extra environment for the deploy script (alongside POLLPRAY_*)
      DJANGO_SETTINGS_MODULE: todo.settings
    # secret_env: [DJANGO_SECRET_KEY] # this target's secret variables (adds to the top-level list)
    restart: [todo.service]        # each becomes: sudo -n systemctl restart <unit> (see pollpray sudoers)
    # service_manager: supervisorctl # overrides the top-level one; then restart: [todo] names a program
    health:                        # after restart; failure rolls back (releases) and counts the failure
      http: http://127.0.0.1:8000/healthz   # either http ...
      # command: [/usr/local/bin/check-todo] # ... or a command (argv list), not both
      expect_status: 200
      # body: ok                   # text the response body must contain
      timeout: 30s                 # per attempt
      retries: 5
      interval: 2s                 # wait between attempts
    on_force_push: follow          # overrides defaults.on_force_push
    max_attempts: 3                # overrides defaults.max_attempts
    # Verify the commit's signature before deploying (fails closed):
    # verify:
    #   mode: ssh                  # ssh or gpg
    #   allowed_signers: /etc/pollpray/allowed_signers   # mode ssh: trusted signing keys
    #   keyring: /etc/pollpray/gnupg                     # mode gpg: a GnuPG home dir holding only the trusted keys
`;
