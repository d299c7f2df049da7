"""The three client functions of seed 003 (API.md, "Usage Examples for Other Services"), called
exactly as written, against a running user-service.

Environment: USER_SERVICE_URL (as the clients read it) and USER_SERVICE_TOKEN (what the harness's
get_auth_token() hands them: a user's access token, since the clients send only Authorization:
Bearer), USER_ID, and SESSION_ID. Prints one JSON document with what each call returned.
"""

import asyncio
import json
import os
import sys

import httpx


class InsufficientCreditsError(Exception):
    pass


def get_auth_token():
    return os.environ["USER_SERVICE_TOKEN"]


# --- Seed 003, verbatim -------------------------------------------------------------------------

async def record_memory_usage(user_id: str, session_id: str, tokens_used: int):
    """Record memory service usage"""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{os.getenv('USER_SERVICE_URL')}/api/v1/users/{user_id}/usage",
            headers={"Authorization": f"Bearer {get_auth_token()}"},
            json={
                "user_id": user_id,
                "session_id": session_id,
                "endpoint": "/memory/store",
                "event_type": "memory_storage",
                "credits_charged": tokens_used * 0.01,
                "tokens_used": tokens_used,
                "tool_name": "memory_service",
                "operation_name": "store_memory"
            }
        )
        return response.json()

async def create_terminal_session(user_id: str, title: str):
    """Create terminal session via user service"""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{os.getenv('USER_SERVICE_URL')}/api/v1/users/{user_id}/sessions",
            headers={"Authorization": f"Bearer {get_auth_token()}"},
            json={
                "user_id": user_id,
                "title": title,
                "metadata": {
                    "source": "terminal_service",
                    "type": "terminal_session"
                }
            }
        )
        return response.json()

async def consume_credits_for_api_call(user_id: str, credits_needed: float, usage_record_id: int):
    """Consume credits for API usage"""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{os.getenv('USER_SERVICE_URL')}/api/v1/users/{user_id}/credits/consume",
            headers={"Authorization": f"Bearer {get_auth_token()}"},
            json={
                "amount": credits_needed,
                "description": "Terminal API execution",
                "usage_record_id": usage_record_id
            }
        )
        
        if response.status_code == 400:
            # Handle insufficient credits
            balance_response = await client.get(
                f"{os.getenv('USER_SERVICE_URL')}/api/v1/users/{user_id}/credits/balance",
                headers={"Authorization": f"Bearer {get_auth_token()}"}
            )
            current_balance = balance_response.json()["data"]
            raise InsufficientCreditsError(f"Need {credits_needed}, have {current_balance}")
        
        return response.json()

# --- end of seed 003 ----------------------------------------------------------------------------


async def main():
    user_id = os.environ["USER_ID"]
    session_id = os.environ["SESSION_ID"]
    out = {}
    out["usage"] = await record_memory_usage(user_id, session_id, 57)
    out["session"] = await create_terminal_session(user_id, "Terminal on host-1")
    usage_id = out["usage"]["data"]["id"]
    out["consume"] = await consume_credits_for_api_call(user_id, 0.1 + 0.2, usage_id)
    try:
        await consume_credits_for_api_call(user_id, 1000.0, usage_id)
        out["insufficient"] = None
    except InsufficientCreditsError as e:
        out["insufficient"] = str(e)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
