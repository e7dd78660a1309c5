// mailstorm's Haraka plugin: what a Postfix transport table and a submission port give the other
// targets, and the per-recipient records Haraka's own log lines do not carry.
//
// - Relaying for the local submission (127.0.0.1): the harness injects over SMTP from inside
//   the container, and Haraka sends relayed mail out (outbound) when no queue plugin takes it.
// - get_mx: a domain listed in config/mailstorm_routes.json goes to its hosts and ports (the
//   harness's static routes); any other domain drops through to Haraka's own MX lookup.
// - deferred, bounce, delivered: one log line per event (`mailstorm-record {json}`) with the hmail's uuid, envelope
//   and recipients. Each hook returns CONT (next()), so Haraka does what it would have done.
//
// Written for harness/targets/haraka/driver.py, which reads these lines back.
'use strict'

exports.register = function () {
    this.load_routes()
}

exports.load_routes = function () {
    this.routes = this.config.get('mailstorm_routes.json', 'json', () => this.load_routes()) || {}
}

exports.hook_connect_init = function (next, connection) {
    const ip = connection.remote?.ip || ''
    if (ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1') connection.relaying = true
    next()
}

exports.hook_get_mx = function (next, hmail, domain) {
    const hops = this.routes[String(domain).toLowerCase()]
    if (!hops) return next()
    next(OK, hops)
}

function envelope(hmail) {
    const todo = hmail.todo
    return {
        queue: todo.uuid,
        from: todo.mail_from.address(),
        to: todo.rcpt_to.map((r) => r.address()),
    }
}

// A string, not an object: plugins run in a vm context whose Object is not the logger's, so
// the logger would print an object with util.inspect instead of as JSON fields.
function record(plugin, fields) {
    plugin.lognotice(`mailstorm-record ${JSON.stringify(fields)}`)
}

function text(value) {
    if (value === undefined || value === null) return ''
    return value.message ? String(value.message) : String(value)
}

exports.hook_deferred = function (next, hmail, params) {
    const mx = params.mx
    record(this, {
        event: 'deferred',
        ...envelope(hmail),
        relay: mx ? `${mx.exchange}:${mx.port || 25}` : 'none',
        delay: params.delay,
        attempts: hmail.num_failures,
        reason: text(params.err),
    })
    next()
}

exports.hook_bounce = function (next, hmail, error) {
    const mx = error && error.mx
    record(this, {
        event: 'bounced',
        ...envelope(hmail),
        relay: mx ? `${mx.exchange}:${mx.port || 25}` : 'none',
        attempts: hmail.num_failures,
        reason: text(error),
    })
    next()
}

exports.hook_delivered = function (next, hmail, params) {
    const [host, ip, response, delay, port, , ok_recips] = params
    record(this, {
        event: 'sent',
        queue: hmail.todo.uuid,
        from: hmail.todo.mail_from.address(),
        to: (ok_recips || []).map((r) => r.address()),
        relay: `${ip || host}:${port}`,
        delay,
        attempts: hmail.num_failures,
        reason: text(response),
    })
    next()
}
