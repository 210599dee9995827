"""The pure model of Switchyard: requests, replies, deployments and the policies over them."""
