"""Which Redis answers mean "a failover is under way, wait and write again" for the writes that must
not be lost (idempotency records, erasure jobs), and which mean the command itself is wrong.

redis-py turns most failover answers into classes whose text has lost the answer's first word, and a
pipeline prefixes it: a Cluster losing a master mid-load answered "Command # 1 (SET ...) of pipeline
caused error: The cluster is down", which was taken for a wrong command and answered INTERNAL.
"""

from __future__ import annotations

import pytest
from redis.exceptions import ClusterDownError, MasterDownError, MovedError, ResponseError, TryAgainError

from harmonia.shared_state.durable import failover_answer

PIPELINE = "Command # 1 (SET harmonia:idempotency:k v NX EX 120) of pipeline caused error: "


@pytest.mark.parametrize("answer", [
    ClusterDownError(PIPELINE + "The cluster is down"),
    ClusterDownError("CLUSTERDOWN The cluster is down"),
    MasterDownError("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
    TryAgainError("Multiple keys request during rehashing of slot"),
    MovedError("3999 127.0.0.1:6381"),
    ResponseError(PIPELINE + "READONLY You can't write against a read only replica."),
    ResponseError("NOREPLICAS Not enough good replicas to write."),
    ResponseError(PIPELINE + "LOADING Redis is loading the dataset in memory"),
])
def test_a_failover_answer_is_waited_out(answer: ResponseError) -> None:
    assert failover_answer(answer)


@pytest.mark.parametrize("answer", [
    ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
    ResponseError(PIPELINE + "ERR syntax error"),
    ResponseError("NOSCRIPT No matching script. Please use EVAL."),
])
def test_a_wrong_command_is_not(answer: ResponseError) -> None:
    assert not failover_answer(answer)
