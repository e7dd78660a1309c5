// Haraka's outbound queue as one JSON line per queue file, for harness/targets/haraka/driver.py.
// A queue file is a 4-byte big-endian length, the "todo" (JSON: envelope, domain, uuid,
// queue_time), then the message (outbound/hmail.js, HMailItem._read_todo). The file's name
// is `arrival_nextattempt_attempts_pid_uniq_counter_host` (outbound/qfile.js). A file that is
// gone by the time it is read (delivered meanwhile) is skipped.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const dir = process.argv[2]
const address = (a) => (a && a.user ? `${a.user}@${a.host || ''}` : '')
for (const name of fs.readdirSync(dir).sort()) {
    if (name.startsWith('__tmp__') || name.startsWith('error.')) continue
    let fd
    try {
        fd = fs.openSync(path.join(dir, name), 'r')
    } catch (e) {
        if (e.code === 'ENOENT') continue
        throw e
    }
    try {
        const head = Buffer.alloc(4)
        if (fs.readSync(fd, head, 0, 4, 0) !== 4) continue
        const length = head.readUInt32BE(0)
        const body = Buffer.alloc(length)
        if (fs.readSync(fd, body, 0, length, 4) !== length) continue
        const todo = JSON.parse(body.toString('utf8'))
        console.log(
            JSON.stringify({
                file: name,
                uuid: todo.uuid,
                domain: todo.domain,
                queue_time: todo.queue_time,
                from: address(todo.mail_from),
                to: (todo.rcpt_to || []).map(address),
            }),
        )
    } finally {
        fs.closeSync(fd)
    }
}
