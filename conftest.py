"""Repository-wide pytest setup.

The mailstorm plugin itself is registered through the `pytest11` entry point of the installed
package (`harness.pytest_plugin`), exactly as users get it; nothing is registered here twice.
"""
