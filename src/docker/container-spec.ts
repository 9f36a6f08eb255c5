/**
 * Turns a container's inspect data into the options that create it again with another
 * image. The container keeps what was set for it (env, mounts, labels, network mode,
 * restart policy, healthcheck, command and entrypoint overrides, user, hostname, stop
 * signal and timeout, log config, …); what it only inherited from its old image is left
 * out, so the new image's defaults apply.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ContainerInspect, ContainerSpec, ImageInspect } from './engine.js';

type Json = Record<string, unknown>;

const HOSTNAME_FROM_ID = 12;

export function specFromInspect(container: ContainerInspect, oldImage: ImageInspect): ContainerSpec {
  const c = container.Config as unknown as Json;
  const img = (oldImage.Config ?? {}) as unknown as Json;
  const host = { ...(container.HostConfig as unknown as Json) };
  const networkMode = String(host.NetworkMode ?? 'default');
  const sharesNetwork = networkMode === 'host' || networkMode.startsWith('container:');

  const create: Json = {};
  const own = (key: string): void => {
    const value = c[key];
    if (value === undefined || value === null || value === '') return;
    if (isDeepStrictEqual(value, img[key])) return;
    create[key] = value;
  };

  const imageEnv = new Set((img.Env as string[] | null) ?? []);
  const env = ((c.Env as string[] | null) ?? []).filter((e) => !imageEnv.has(e));
  if (env.length > 0) create.Env = env;

  const imageLabels = (img.Labels as Record<string, string> | null) ?? {};
  const labels = Object.fromEntries(
    Object.entries((c.Labels as Record<string, string> | null) ?? {}).filter(([k, v]) => imageLabels[k] !== v),
  );
  if (Object.keys(labels).length > 0) create.Labels = labels;

  // An entrypoint set for the container drops the image's command (Engine rule), so
  // keep the pair as it was whenever the entrypoint was overridden.
  if (!isDeepStrictEqual(c.Entrypoint ?? null, img.Entrypoint ?? null)) {
    create.Entrypoint = c.Entrypoint ?? [];
    if (c.Cmd) create.Cmd = c.Cmd;
  } else own('Cmd');

  for (const key of ['User', 'WorkingDir', 'StopSignal', 'Healthcheck', 'Shell', 'OnBuild']) own(key);
  for (const key of ['StopTimeout', 'Tty', 'OpenStdin', 'StdinOnce', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'MacAddress']) {
    if (c[key] !== undefined && c[key] !== null && c[key] !== '') create[key] = c[key];
  }
  for (const key of ['ExposedPorts', 'Volumes']) {
    const mine = (c[key] as Record<string, object> | null) ?? {};
    const theirs = (img[key] as Record<string, object> | null) ?? {};
    const kept = Object.fromEntries(Object.entries(mine).filter(([k]) => !(k in theirs)));
    if (Object.keys(kept).length > 0) create[key] = kept;
  }
  if (!sharesNetwork) {
    const hostname = String(c.Hostname ?? '');
    if (hostname !== '' && hostname !== container.Id.slice(0, HOSTNAME_FROM_ID)) create.Hostname = hostname;
    if (c.Domainname) create.Domainname = c.Domainname;
  }

  host.Binds = [...((host.Binds as string[] | null) ?? []), ...anonymousVolumeBinds(container, host)];
  create.HostConfig = host;

  const networks = Object.entries(container.NetworkSettings?.Networks ?? {});
  const endpoint = (n: Json): Json => {
    const aliases = ((n.Aliases as string[] | null) ?? []).filter((a) => a !== container.Id.slice(0, HOSTNAME_FROM_ID));
    const e: Json = {};
    if (aliases.length > 0) e.Aliases = aliases;
    if (n.IPAMConfig) e.IPAMConfig = n.IPAMConfig;
    if (n.Links) e.Links = n.Links;
    if (n.DriverOpts) e.DriverOpts = n.DriverOpts;
    return e;
  };
  const extraNetworks: ContainerSpec['extraNetworks'] = [];
  if (!sharesNetwork && networkMode !== 'none') {
    const primary = networks.find(([name]) => name === networkMode) ?? networks[0];
    if (primary) {
      create.NetworkingConfig = { EndpointsConfig: { [primary[0]]: endpoint(primary[1] as unknown as Json) } };
      for (const [name, n] of networks) {
        if (name !== primary[0]) extraNetworks.push({ name, endpoint: endpoint(n as unknown as Json) });
      }
    }
  }

  return {
    name: container.Name.replace(/^\//, ''),
    image: String(c.Image ?? ''),
    imageId: container.Image,
    create,
    extraNetworks,
  };
}

/**
 * Volumes the container got without asking (an image's VOLUME with no mount declared
 * for it) would be replaced by empty ones on recreate: name them explicitly instead.
 */
function anonymousVolumeBinds(container: ContainerInspect, host: Json): string[] {
  const bound = new Set<string>();
  for (const b of (host.Binds as string[] | null) ?? []) {
    const parts = b.split(':');
    if (parts[1]) bound.add(parts[1]);
  }
  for (const m of (host.Mounts as Array<{ Target?: string }> | null) ?? []) if (m.Target) bound.add(m.Target);
  for (const t of Object.keys((host.Tmpfs as Record<string, string> | null) ?? {})) bound.add(t);
  return (container.Mounts ?? [])
    .filter((m) => m.Type === 'volume' && m.Name && !bound.has(m.Destination))
    .map((m) => `${m.Name}:${m.Destination}${m.RW ? '' : ':ro'}`);
}
