"""A flow run in a real Prefect server, for the API-evidence tests (PREFECT_API_URL set).

    prefect_api_run.py create NAME    creates a RUNNING flow run NAME and prints its id
    prefect_api_run.py crash ID       marks the run CRASHED, as Prefect does when its worker dies
"""
import asyncio
import sys

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Crashed, Running


@flow
def orphan():
    pass


async def main(command, argument):
    async with get_client() as client:
        if command == "create":
            run = await client.create_flow_run(orphan, name=argument)
            await client.set_flow_run_state(run.id, Running(), force=True)
            print(run.id, flush=True)
        elif command == "crash":
            await client.set_flow_run_state(argument, Crashed(message="its worker was killed"), force=True)
            print("crashed", flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2]))
