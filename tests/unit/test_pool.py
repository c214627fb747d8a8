from __future__ import annotations

from faas.manifest.spec import parse_manifest
from faas.pool.policy import Create, Evict, FunctionPool, Reuse, StartKind, State, Wait


def pool(**manifest: object) -> FunctionPool:
    return FunctionPool(parse_manifest({"name": "f", **manifest}), "img:1")


def started(p: FunctionPool, now: float, prewarmed: bool = False):  # type: ignore[no-untyped-def]
    instance = p.reserve(now, prewarmed=prewarmed)
    p.ready(instance, now)
    return instance


def test_empty_pool_starts_a_container() -> None:
    assert isinstance(pool().decide(), Create)


def test_idle_container_is_reused_warm_and_busy_one_is_not() -> None:
    p = pool(scale={"max": 1})
    instance = started(p, 0.0)
    decision = p.decide()
    assert decision == Reuse(instance, StartKind.WARM)
    p.acquire(instance)
    assert instance.state is State.BUSY
    assert isinstance(p.decide(), Wait)  # at scale.max
    p.release(instance, 1.0)
    assert instance.state is State.READY


def test_concurrency_lets_one_container_take_several_calls() -> None:
    p = pool(concurrency=2, scale={"max": 1})
    instance = started(p, 0.0)
    p.acquire(instance)
    assert isinstance(p.decide(), Reuse)
    p.acquire(instance)
    assert isinstance(p.decide(), Wait)


def test_creating_containers_count_against_scale_max() -> None:
    p = pool(scale={"max": 2})
    p.reserve(0.0)
    assert isinstance(p.decide(), Create)
    p.reserve(0.0)
    assert isinstance(p.decide(), Wait)


def test_forced_cold_ignores_idle_containers_but_not_the_limit() -> None:
    p = pool(scale={"max": 2})
    older = started(p, 0.0)
    assert isinstance(p.decide(force_cold=True), Create)
    newer = started(p, 1.0)
    p.pause(newer)
    # At scale.max, an idle (or paused) container makes room: the least recently used one.
    assert p.decide(force_cold=True) == Evict(older)
    p.acquire(older)
    assert p.decide(force_cold=True) == Evict(newer)
    p.acquire(newer)
    assert isinstance(p.decide(force_cold=True), Wait)  # every one busy: wait as any call


def test_prewarmed_container_first_call_is_prewarm_then_warm() -> None:
    p = pool()
    instance = started(p, 0.0, prewarmed=True)
    assert p.decide() == Reuse(instance, StartKind.PREWARM)
    p.acquire(instance)
    p.release(instance, 1.0)
    assert p.decide() == Reuse(instance, StartKind.WARM)


def test_most_recently_used_is_preferred_so_others_expire() -> None:
    p = pool()
    old, recent = started(p, 0.0), started(p, 5.0)
    assert p.decide() == Reuse(recent, StartKind.WARM)
    assert old.last_used < recent.last_used


def test_keep_alive_expiry_respects_scale_min() -> None:
    p = pool(keep_alive="10s", scale={"min": 1})
    a, b = started(p, 0.0), started(p, 3.0)
    assert p.expired(9.0) == []
    assert p.expired(13.0) == [a]  # b would be due too, but min 1 keeps one
    p.discard(a)
    assert p.expired(100.0) == []
    assert b.state is State.READY


def test_busy_containers_never_expire() -> None:
    p = pool(keep_alive="1s")
    a = started(p, 0.0)
    p.acquire(a)
    assert p.expired(100.0) == []


def test_deficit_keeps_scale_min_ready() -> None:
    p = pool(scale={"min": 2})
    assert p.deficit() == 2
    p.reserve(0.0, prewarmed=True)
    assert p.deficit() == 1


def test_redeploy_drains_old_containers() -> None:
    p = pool()
    a, b = started(p, 0.0), started(p, 0.0)
    p.acquire(a)
    stale = p.update(p.spec, "img:2")
    assert set(stale) == {a, b}
    assert {a.state, b.state} == {State.DRAINING}
    assert isinstance(p.decide(), Create)  # draining containers take no new calls
    assert p.drained() == [b]
    p.release(a, 1.0)
    assert a.state is State.DRAINING
    assert set(p.drained()) == {a, b}


def test_unchanged_update_drains_nothing() -> None:
    p = pool()
    started(p, 0.0)
    assert p.update(p.spec, "img:1") == []


def test_counts_by_state() -> None:
    p = pool()
    a = started(p, 0.0)
    p.reserve(0.0)
    p.acquire(a)
    assert p.counts() == {"creating": 1, "ready": 0, "busy": 1, "paused": 0, "draining": 0}
