"""The login throttle, on a clock the tests move by hand (nothing sleeps)."""

from __future__ import annotations

import pytest

from sparkstudio.auth.throttle import LoginAttempt, LoginThrottle, address_key
from sparkstudio.errors import TooManyRequests

HOME = "198.51.100.7"
ELSEWHERE = "203.0.113.9"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, *, per_user: int = 3, per_address: int = 10) -> LoginThrottle:
    return LoginThrottle(
        failures_before_delay=per_user,
        failures_per_address_before_delay=per_address,
        first_delay=10,
        max_delay=100,
        clock=clock,
    )


def fail(throttle: LoginThrottle, user: str, host: str = HOME, times: int = 1) -> None:
    """Attempts that never succeed: each stays counted as a failure."""
    for _ in range(times):
        throttle.admit(user, host)


def refusal(throttle: LoginThrottle, user: str, host: str = HOME) -> TooManyRequests:
    with pytest.raises(TooManyRequests) as raised:
        throttle.admit(user, host)
    return raised.value


def test_failures_up_to_the_limit_are_admitted_then_a_delay_refuses_all(clock: Clock) -> None:
    throttle = make(clock)
    fail(throttle, "alice", times=3)
    error = refusal(throttle, "alice")
    assert (error.status, error.reason, error.retry_after) == (429, "TooManyLogins", 10)
    assert "try again in 10 s" in error.message
    clock.now += 9.5
    assert refusal(throttle, "alice").retry_after == 1  # rounded up, never 0
    clock.now += 0.5
    throttle.succeeded(throttle.admit("alice", HOME))  # the delay is over


def test_each_further_failure_doubles_the_delay_up_to_the_cap(clock: Clock) -> None:
    throttle = make(clock)
    fail(throttle, "alice", times=3)
    delays = []
    for _ in range(6):
        delay = refusal(throttle, "alice").retry_after
        delays.append(delay)
        clock.now += delay
        fail(throttle, "alice")
    assert delays == [10, 20, 40, 80, 100, 100]


def test_refused_attempts_do_not_lengthen_the_delay(clock: Clock) -> None:
    throttle = make(clock)
    fail(throttle, "alice", times=3)
    for _ in range(20):
        refusal(throttle, "alice")
    clock.now += 10
    fail(throttle, "alice")
    assert refusal(throttle, "alice").retry_after == 20  # the 4th failure, not the 24th


def test_a_success_forgets_the_users_failures(clock: Clock) -> None:
    throttle = make(clock)
    fail(throttle, "alice", times=2)
    throttle.succeeded(throttle.admit("alice", HOME))
    fail(throttle, "alice", times=2)  # would be the 4th and 5th without the success
    throttle.succeeded(throttle.admit("alice", HOME))


def test_attempts_count_while_their_password_is_being_checked(clock: Clock) -> None:
    throttle = make(clock)
    in_flight = [throttle.admit("alice", HOME) for _ in range(3)]
    refusal(throttle, "alice")  # a 4th parallel guess does not slip through
    throttle.succeeded(in_flight[0])
    throttle.succeeded(throttle.admit("alice", HOME))


def test_one_user_in_a_delay_leaves_others_alone(clock: Clock) -> None:
    throttle = make(clock)
    fail(throttle, "alice", times=3)
    refusal(throttle, "alice", ELSEWHERE)  # the name is in a delay from every address
    throttle.succeeded(throttle.admit("bob", ELSEWHERE))
    throttle.succeeded(throttle.admit("bob", HOME))  # and the address is not


def test_an_address_guessing_at_many_names_is_delayed(clock: Clock) -> None:
    throttle = make(clock, per_address=4)
    for name in ("a", "b", "c", "d"):
        fail(throttle, name)
    error = refusal(throttle, "e")
    assert error.retry_after == 10
    refusal(throttle, "a")
    throttle.succeeded(throttle.admit("e", ELSEWHERE))


def test_a_success_does_not_reset_the_address(clock: Clock) -> None:
    throttle = make(clock, per_address=4)
    for name in ("a", "b", "c"):
        fail(throttle, name)
    # Logging in to one account between guesses must not wipe the address's count...
    throttle.succeeded(throttle.admit("mine", HOME))
    fail(throttle, "d")
    refusal(throttle, "e")
    # ... while the success itself is not counted against it.
    assert refusal(throttle, "mine").retry_after == 10


def test_failures_are_forgotten_after_a_quiet_spell(clock: Clock) -> None:
    throttle = make(clock)
    fail(throttle, "alice", times=2)
    clock.now += 100  # max_delay without a failure
    fail(throttle, "alice", times=2)  # counted afresh: 2, not 4
    clock.now += 99
    fail(throttle, "alice")
    refusal(throttle, "alice")


def test_a_delayed_name_is_remembered_past_its_delay(clock: Clock) -> None:
    throttle = make(clock)
    fail(throttle, "alice", times=3)
    clock.now += 10 + 99  # the delay ended 99 s ago: still within the quiet spell
    fail(throttle, "alice")
    assert refusal(throttle, "alice").retry_after == 20


def test_memory_stays_bounded(clock: Clock) -> None:
    throttle = LoginThrottle(
        failures_before_delay=3,
        failures_per_address_before_delay=10_000,
        first_delay=10,
        max_delay=100,
        clock=clock,
        capacity=50,
    )
    for index in range(500):
        fail(throttle, f"user-{index}")
    assert len(throttle._users.entries) <= 50
    fail(throttle, "user-499", times=2)  # the oldest names made room, not the newest
    refusal(throttle, "user-499")


def test_the_attempt_names_what_is_counted(clock: Clock) -> None:
    throttle = make(clock)
    attempt = throttle.admit("alice", "2001:db8:1:2:3:4:5:6")
    assert attempt == LoginAttempt("alice", "2001:db8:1:2::/64")


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:1", "2001:db8::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("", ""),
        ("testclient", "testclient"),
    ],
)
def test_addresses_are_counted_per_host_or_ipv6_64(host: str, key: str) -> None:
    assert address_key(host) == key


def test_one_ipv6_64_counts_as_one_address(clock: Clock) -> None:
    throttle = make(clock, per_address=3)
    for index in range(3):
        fail(throttle, f"u{index}", f"2001:db8::{index + 1}")
    refusal(throttle, "v", "2001:db8::ffff")
    throttle.succeeded(throttle.admit("v", "2001:db8:0:1::1"))  # another /64
