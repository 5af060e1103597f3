"""Locust personas, browser-like clients, flow metrics and history."""
