// Pure builders for the docker command lines a push runs. No secret is ever
// an argument: the password goes to `docker login` on stdin.
import type { DockerClient } from '../docker/client.js';
import type { Command } from '../exec.js';

/** Log in to one registry; the caller writes the password to stdin. */
export function loginCommand(client: DockerClient, registry: string, username: string): Command {
  return { command: client.bin, args: ['login', registry, '--username', username, '--password-stdin'] };
}

/** Forget the credentials stored for one registry. */
export function logoutCommand(client: DockerClient, registry: string): Command {
  return { command: client.bin, args: ['logout', registry] };
}

/** Push one name:tag (never a bare name, which would push every tag of the repository). */
export function pushCommand(client: DockerClient, ref: string): Command {
  return { command: client.bin, args: ['push', ref] };
}

/** The image's `name@digest` entries, as one JSON array. */
export function repoDigestsCommand(client: DockerClient, ref: string): Command {
  return { command: client.bin, args: ['image', 'inspect', '--format', '{{json .RepoDigests}}', ref] };
}
