/**
 * Cross-field rules: what the schema cannot say about one key alone. Each rule is a
 * small function from a schema-valid file to findings, so each is tested on its own.
 */
import { posix } from 'node:path';
import { parseDuration } from '../duration.js';
import { pathRelation } from '../real-location.js';
import type { Finding } from './report.js';
import { restartNameProblem, type RawConfig } from './schema.js';
import { commitTextIn, PLACEHOLDERS, unknownPlaceholders } from '../deploy/template.js';

export type Rule = (raw: RawConfig) => Finding[];

export const atLeastOneTarget: Rule = (raw) =>
  Object.keys(raw.targets).length === 0
    ? [{ path: ['targets'], at: 'key', message: 'is empty: add at least one target (pollpray init writes an example)' }]
    : [];

/**
 * Two targets on one directory would reset each other's code; one inside another
 * would be overwritten or deleted by the outer target's checkout or release switch.
 */
export const distinctPaths: Rule = (raw) => {
  const seen: [string, string][] = [];
  const findings: Finding[] = [];
  for (const [name, t] of Object.entries(raw.targets)) {
    // normalize() has already folded repeated slashes: one trailing slash at most is left.
    const path = posix.normalize(t.path).replace(/(.)\/$/, '$1');
    for (const [other, otherPath] of seen) {
      const relation = pathRelation(path, otherPath);
      const message = relation && {
        same: `same directory as target "${other}": each target needs its own path`,
        inside: `is inside target "${other}"'s path ${otherPath}: targets must not nest`,
        contains: `contains target "${other}"'s path ${otherPath}: targets must not nest`,
      }[relation];
      if (message) {
        // One finding per target is enough to send the user to the right line.
        findings.push({ path: ['targets', name, 'path'], message });
        break;
      }
    }
    seen.push([name, path]);
  }
  return findings;
};

/** keep_releases, shared and min_free_space do nothing with in-place; silently ignoring them would mislead. */
export const releasesOnlyKeys: Rule = (raw) =>
  Object.entries(raw.targets).flatMap(([name, t]) => {
    const strategy = t.strategy ?? 'in-place';
    if (strategy === 'releases') return [];
    const keys = (['keep_releases', 'shared', 'min_free_space'] as const).filter((k) => t[k] !== undefined);
    return keys.map((key) => ({
      path: ['targets', name, key],
      at: 'key' as const,
      message: `only applies to strategy: releases (this target uses ${strategy}${t.strategy ? '' : ', the default'}): remove it or set strategy: releases`,
    }));
  });

/** Signature verification fails closed, so a mode without its trust file could never pass. */
export const verifyTrustFile: Rule = (raw) =>
  Object.entries(raw.targets).flatMap(([name, t]): Finding[] => {
    const v = t.verify;
    if (!v) return [];
    const at = (key: string): (string | number)[] => ['targets', name, 'verify', key];
    const findings: Finding[] = [];
    if (v.mode === 'ssh' && v.allowed_signers === undefined)
      findings.push({ path: at('mode'), message: 'ssh needs allowed_signers (a file of trusted signing keys, as for git gpg.ssh.allowedSignersFile)' });
    if (v.mode === 'ssh' && v.keyring !== undefined)
      findings.push({ path: at('keyring'), at: 'key', message: 'only applies to mode: gpg (use allowed_signers for ssh)' });
    if (v.mode === 'gpg' && v.allowed_signers !== undefined)
      findings.push({ path: at('allowed_signers'), at: 'key', message: 'only applies to mode: ssh (use keyring for gpg)' });
    return findings;
  });

/** A target follows a branch or tags, never both: which one would win is a guess. */
export const branchOrTags: Rule = (raw) =>
  Object.entries(raw.targets).flatMap(([name, t]): Finding[] =>
    t.tags !== undefined && t.branch !== undefined
      ? [{ path: ['targets', name, 'tags'], at: 'key', message: 'a target follows either branch or tags: remove one of them' }]
      : [],
  );

/** One way to deploy: a deploy script or steps. */
export const deployOrSteps: Rule = (raw) =>
  Object.entries(raw.targets).flatMap(([name, t]): Finding[] =>
    t.deploy !== undefined && t.steps !== undefined
      ? [{ path: ['targets', name, 'steps'], at: 'key', message: 'a target has either deploy (one script) or steps (a pipeline): remove one' }]
      : [],
  );

/**
 * Placeholders must be known (a typo would silently become an empty argument), and
 * text from the repository (branch, tag, subject, step output) never goes into a
 * command, whatever the command is: any argument may be code to some interpreter
 * (`env sh -c`, `python3 -c`, a script's eval); nor into an env value, whose name may
 * be one an interpreter runs (BASH_ENV, NODE_OPTIONS). Scripts read it from POLLPRAY_*.
 */
export const stepTemplates: Rule = (raw) =>
  Object.entries(raw.targets).flatMap(([name, t]) =>
    (t.steps ?? []).flatMap((step, i): Finding[] => {
      const at = (...rest: (string | number)[]) => ['targets', name, 'steps', i, ...rest];
      const findings: Finding[] = [];
      const check = (text: string, path: (string | number)[]) => {
        for (const key of unknownPlaceholders(text)) findings.push({ path, message: `unknown placeholder {{${key}}} (known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ')})` });
      };
      const checkPlain = (text: string, path: (string | number)[], where: string) => {
        check(text, path);
        for (const { placeholder, variable } of commitTextIn(text))
          findings.push({
            path,
            message: `{{${placeholder}}} carries text from the repository (whoever can push chooses it) and is refused in ${where}: use $${variable} in your script instead`,
          });
      };
      const checkArgv = (argv: readonly string[], path: (string | number)[]) =>
        argv.forEach((arg, j) => checkPlain(arg, [...path, j], 'a command, where a shell or interpreter could run it'));
      if (Array.isArray(step.run)) checkArgv(step.run, at('run'));
      for (const [key, value] of Object.entries(step.env ?? {}))
        checkPlain(value, at('env', key), 'an env value, where a variable such as BASH_ENV or NODE_OPTIONS is read as code');
      for (const which of ['on_success', 'on_failure'] as const) {
        const h = step[which];
        if (h?.run) checkArgv(h.run, at(which, 'run'));
        if (h?.message) check(h.message, at(which, 'message'));
      }
      return findings;
    }),
  );

/**
 * Two sources for one password would leave the reader guessing which one is used; a
 * lease shorter than a second would expire between two renewals on a busy host.
 */
export const coordinationSettings: Rule = (raw) => {
  const c = raw.coordination;
  if (!c) return [];
  const findings: Finding[] = [];
  let password = '';
  try {
    password = decodeURIComponent(new URL(c.redis).password);
  } catch {
    findings.push({ path: ['coordination', 'redis'], message: 'is not a valid URL (redis://[user:password@]host:port/db)' });
  }
  if (password && c.password_file !== undefined)
    findings.push({ path: ['coordination', 'password_file'], at: 'key', message: 'the redis URL already has a password: keep one of the two (password_file keeps it out of the config)' });
  if (c.lease !== undefined && (parseDuration(c.lease) ?? 0) < 1000)
    findings.push({ path: ['coordination', 'lease'], message: 'must be at least 1s (the lease is renewed every third of it while a deploy runs)' });
  return findings;
};

/** Each restart entry must name what the target's service manager restarts: a unit, an init script or a program. */
export const restartNames: Rule = (raw) =>
  Object.entries(raw.targets).flatMap(([name, t]) => {
    const manager = t.service_manager ?? raw.service_manager ?? 'systemd';
    return (t.restart ?? []).flatMap((entry, i): Finding[] => {
      const problem = restartNameProblem(manager, entry);
      return problem ? [{ path: ['targets', name, 'restart', i], message: problem }] : [];
    });
  });

/** supervisor_config only changes what supervisorctl reads; next to another manager it would be silently ignored. */
export const supervisorSettings: Rule = (raw) => {
  // Only whether any of them is supervisorctl matters, so the systemd default needs no place here.
  const managers = new Set([raw.service_manager, ...Object.values(raw.targets).map((t) => t.service_manager ?? raw.service_manager)]);
  if (raw.supervisor_config === undefined || managers.has('supervisorctl')) return [];
  return [{ path: ['supervisor_config'], at: 'key', message: 'only applies to service_manager: supervisorctl (no target uses it): remove it or set service_manager' }];
};

export const RULES: readonly Rule[] = [restartNames, supervisorSettings, atLeastOneTarget, distinctPaths, releasesOnlyKeys, verifyTrustFile, branchOrTags, deployOrSteps, stepTemplates, coordinationSettings];

export function ruleFindings(raw: RawConfig, rules: readonly Rule[] = RULES): Finding[] {
  return rules.flatMap((rule) => rule(raw));
}
