/**
 * Button clicks as the server handles them (DoPostActionWithCookie): the clicker must read
 * the channel, the action is found by id in the stored post, its `context` goes to the
 * integration in a PostActionIntegrationRequest with no token, anything but an HTTP 200 with
 * a JSON body (an empty one too, on 5.x) is "Action integration error.", and the reply's
 * `update` replaces the post's message and props (keeping from_webhook and the overrides).
 */
import type { Core } from './core.js';
import { route, type Route } from './http.js';
import { callIntegration, type IntegrationError } from './integrations.js';
import { AppError, errors, findAction, isValidId, type Post, type Team } from './model.js';

const RETAINED = ['from_webhook', 'override_username', 'override_icon_url'];

export function actionRoutes(core: Core): Route[] {
  return [
    route('POST', '/api/v4/posts/{post_id:[A-Za-z0-9]+}/actions/{action_id:[A-Za-z0-9]+}', async (c) => {
      if (!isValidId(c.params.post_id)) throw errors.invalidUrlParam('post_id');
      let selected = '';
      try {
        const body = JSON.parse((await c.body()) || '{}') as { selected_option?: unknown };
        if (typeof body.selected_option === 'string') selected = body.selected_option;
      } catch {
        // the server only logs a body it cannot decode
      }
      const post = await core.store.get<Post>('post', c.params.post_id!);
      const channel = post ? await core.channel(post.channel_id) : undefined;
      if (!post || post.delete_at !== 0 || !channel) {
        if (!core.isAdmin(c.user)) throw errors.permissions();
        throw new AppError(404, 'app.post.get.app_error', 'Unable to get the post.');
      }
      if (!channel.members.includes(c.user.id)) throw new AppError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.', 'permission=read_channel_content');
      const action = findAction(post, c.params.action_id!);
      if (!action?.integration?.url) throw new AppError(404, 'api.post.do_action.action_id.app_error', 'Invalid action id.', `action=${JSON.stringify(action ?? null)}`);
      const team = (await core.team(channel.team_id)) as Team;
      const trigger = core.triggerId(c.user.id);
      const context = action.integration.context ? structuredClone(action.integration.context) : undefined;
      let dataSource = '';
      const type = action.type ?? '';
      let ctx = context;
      if (type === 'select' && selected !== '') {
        ctx = { ...(context ?? {}), selected_option: selected };
        dataSource = action.data_source ?? '';
      }
      const request = {
        user_id: c.user.id,
        user_name: c.user.username,
        channel_id: channel.id,
        channel_name: channel.name,
        team_id: channel.team_id,
        team_domain: team.name,
        post_id: post.id,
        trigger_id: trigger.full,
        type,
        data_source: dataSource,
        ...(ctx && Object.keys(ctx).length > 0 ? { context: ctx } : {}),
      };
      const settings = await core.settings();
      const failed = (detail: string): AppError => new AppError(400, 'api.post.do_action.action_integration.app_error', 'Action integration error.', detail);
      const started = core.now();
      const body = JSON.stringify(request);
      let reply: { update?: { message?: unknown; props?: unknown } | null; ephemeral_text?: unknown } = {};
      try {
        const r = await callIntegration({
          method: 'POST',
          url: action.integration.url,
          headers: [['Accept', 'application/json'], ['Content-Type', 'application/json']],
          body,
          timeoutMs: settings.outgoingTimeoutMs,
          allowedUntrusted: settings.allowedUntrusted,
        });
        await core.logCall({ at: started, kind: 'action', url: action.integration.url, method: 'POST', requestHeaders: r.requestHeaders, requestBody: r.requestBody, status: r.status, responseHeaders: r.headers, responseBody: r.body, ms: core.now() - started });
        if (r.status !== 200) throw failed(`status=${r.status}`);
        if (r.body.length > 0 || settings.flavour === '5') {
          try {
            const parsed: unknown = JSON.parse(r.body);
            if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
            reply = parsed as typeof reply;
          } catch (err) {
            throw failed(`err=${(err as Error).message}`);
          }
        }
      } catch (err) {
        if (err instanceof AppError) throw err;
        const e = err as IntegrationError;
        await core.logCall({ at: started, kind: 'action', url: action.integration.url, method: 'POST', requestHeaders: e.requestHeaders ?? {}, requestBody: body, error: e.message, ms: core.now() - started });
        throw failed(`err=${e.message}`);
      }
      if (reply.update && typeof reply.update === 'object') {
        const u = reply.update;
        await core.mutex.run(async () => {
          const current = (await core.store.get<Post>('post', post.id))!;
          let props: Record<string, unknown>;
          const given = u.props !== undefined && u.props !== null && typeof u.props === 'object';
          // An update without props: 5.x keeps only the retained props (the buttons go);
          // 9.x and later keep the original props whole (the buttons stay).
          if (!given && settings.flavour === 'current') props = current.props;
          else {
            props = { ...((given ? u.props : {}) as Record<string, unknown>) };
            if (Array.isArray(props.attachments) && props.attachments.length === 0) props.attachments = null;
            for (const key of RETAINED) {
              if (key in current.props) props[key] = current.props[key];
              else delete props[key];
            }
          }
          await core.updatePost(current, { message: typeof u.message === 'string' ? u.message : '', props }, 'action');
        });
      }
      if (typeof reply.ephemeral_text === 'string' && reply.ephemeral_text !== '') {
        await core.addEphemeral({ user_id: c.user.id, channel_id: channel.id, root_id: post.root_id || post.id, message: reply.ephemeral_text, props: {}, source: 'action' });
      }
      return [200, { status: 'OK', trigger_id: trigger.client }];
    }),
  ];
}
