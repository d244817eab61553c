# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/rest_provider'

Puppet::Type.type(:monitoring_servicegroup).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/servicegroups/<name>/)."

  include PuppetX::MonitoringPortal::RestProvider

  portal_properties(group_alias: ['alias', :string], team: ['team', :ref])

  def api_path
    "registry/servicegroups/#{PuppetX::MonitoringPortal::Client.path(resource[:name])}"
  end
end
