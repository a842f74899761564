/**
 * The exact values the redactor must hide for a config: variables named in
 * `secret_env` (from a target's `env:` or pollpray's own environment, which deploy
 * scripts inherit), and the webhook and heartbeat URLs (a Slack webhook or a
 * healthchecks ping URL is itself the credential).
 */
import type { Config } from './normalise.js';

export function configSecrets(config: Config, env: NodeJS.ProcessEnv): string[] {
  const values: string[] = [];
  const names = new Set(config.secretEnv);
  for (const target of config.targets) {
    for (const name of target.secretEnv) {
      names.add(name);
      const value = target.env[name];
      if (value) values.push(value);
    }
  }
  for (const name of names) {
    const value = env[name];
    if (value) values.push(value);
  }
  for (const n of config.notify) if (n.webhook) values.push(n.webhook);
  if (config.heartbeatUrl) values.push(config.heartbeatUrl);
  return values;
}
