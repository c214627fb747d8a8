"""Async calls, queue triggers and cron on Redis Streams: at-least-once, nothing lost.

records    the call record and the stream message (pure)
retry      what to do after an attempt: retry when, dead-letter why (pure, injected clock)
cron       schedule expressions (pure)
store      every Redis command and Lua script of the queue (the only module here that
           imports redis)
consumer   the gateway's consumer of the calls stream
callbacks  X-Callback-Url delivery, refusing private addresses
triggers   stream triggers (batches, batchItemFailures) and cron triggers
service    the piece the gateway composes: starts and stops all of the above
"""
