"""Locust user for the hello-world floor: the same FastHttpUser machinery, no pacing."""

from locust import FastHttpUser, constant, task


class HelloUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def hello(self) -> None:
        self.client.get("/")
