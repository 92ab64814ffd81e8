"""The embedded Salesforce stand-in: a small REST org on loopback for the demo and the tests.

It is a fake of Salesforce, not of our code: the proxy reaches it only through the real
simple-salesforce client over HTTPS, exactly as it reaches a real org.
"""
