/**
 * The exact values the redactor must hide for a config: variables named in
 * `secret_env` (top level or per target), wherever the config gives them a value (a
 * target's `env:`, a step's `env:`) and from pollpray's own environment, which deploy
 * scripts inherit; credentials written into an http(s) repo URL or lfs.url; and the webhook and
 * heartbeat URLs (a Slack webhook or a healthchecks ping URL is itself the credential),
 * including a step handler's message webhook.
 */
import type { Config } from './normalise.js';
import { basicAuthorization } from '../git/repo-credentials.js';

export function configSecrets(config: Config, env: NodeJS.ProcessEnv): string[] {
  const values: string[] = [];
  const names = new Set(config.secretEnv);
  for (const target of config.targets) {
    for (const name of target.secretEnv) {
      names.add(name);
      values.push(target.env[name] ?? '');
      for (const step of target.steps ?? []) values.push(step.env[name] ?? '');
    }
    for (const step of target.steps ?? []) values.push(step.onSuccess?.webhook ?? '', step.onFailure?.webhook ?? '');
    // A token-only URL (https://TOKEN@host) carries its secret as the user name.
    for (const c of [target.repoCredentials, target.lfsCredentials]) {
      if (c) values.push(c.password, c.password ? '' : c.username, basicAuthorization(c).slice('Basic '.length));
    }
  }
  for (const name of names) values.push(env[name] ?? '');
  for (const n of config.notify) values.push(n.webhook ?? '');
  values.push(config.heartbeatUrl ?? '');
  return values.filter((v) => v !== '');
}
