# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/rest_provider'

Puppet::Type.type(:monitoring_contact).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/contacts/<name>/)."

  include PuppetX::MonitoringPortal::RestProvider

  portal_properties(
    contact_alias: ['alias', :string],
    user: ['user', :ref],
    team: ['team', :ref],
    email: ['email', :string],
    pager: ['pager', :string],
    host_notification_period: ['host_notification_period', :ref],
    service_notification_period: ['service_notification_period', :ref],
    host_notification_options: ['host_notification_options', :string],
    service_notification_options: ['service_notification_options', :string],
    host_notification_commands: ['host_notification_commands', :set],
    service_notification_commands: ['service_notification_commands', :set],
  )

  def api_path
    "registry/contacts/#{PuppetX::MonitoringPortal::Client.path(resource[:name])}"
  end
end
